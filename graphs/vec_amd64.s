//go:build !purego

#include "textflag.h"

// func addAVX(dst, src *float32, n int)
//
// dst[i] += src[i] for i < n, n a multiple of 8: one rounding per value, as the Go loop.
TEXT ·addAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
done:
	RET

// func poolAVX(best *float32, arg *int32, row *float32, p int32, n int)
//
// For i < n (a multiple of 8): if row[i] > best[i] { best[i], arg[i] = row[i], p }, the Go loop's
// strict comparison (NaN never wins).
TEXT ·poolAVX(SB), NOSPLIT, $0-40
	MOVQ best+0(FP), DI
	MOVQ arg+8(FP), SI
	MOVQ row+16(FP), DX
	VBROADCASTSS p+24(FP), Y4
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   pdone
ploop:
	VMOVUPS (DX), Y0
	VMOVUPS (DI), Y1
	VMOVUPS (SI), Y3
	VCMPPS  $0x1e, Y1, Y0, Y2 // Y2 = Y0 > Y1 (GT_OQ)
	VBLENDVPS Y2, Y0, Y1, Y1  // best = mask ? row : best
	VBLENDVPS Y2, Y4, Y3, Y3  // arg = mask ? p : arg
	VMOVUPS Y1, (DI)
	VMOVUPS Y3, (SI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     ploop
	VZEROUPPER
pdone:
	RET
