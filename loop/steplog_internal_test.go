package loop

import "testing"

// TestKeepLines: resuming at step 40 keeps the header and the lines of steps up to 40 that an
// earlier attempt wrote, and drops the later ones (logged after the checkpoint, before a
// crash) and anything unreadable.
func TestKeepLines(t *testing.T) {
	old := StepsHeader + "\n10,1,10,a\n20,1,20,b\n40,2,10,c\n50,2,20,d\ngarbage\n60,2,30,e\n"
	if got, want := string(keepLines([]byte(old), 40)), StepsHeader+"\n10,1,10,a\n20,1,20,b\n40,2,10,c\n"; got != want {
		t.Errorf("kept:\n%s\nwant:\n%s", got, want)
	}
}
