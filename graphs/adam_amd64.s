//go:build !purego

#include "textflag.h"

// func cpuHasAVX() bool
TEXT ·cpuHasAVX(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	// AVX (ECX bit 28) and OSXSAVE (ECX bit 27)
	MOVL CX, BX
	ANDL $0x18000000, BX
	CMPL BX, $0x18000000
	JNE  no
	// the OS saves XMM and YMM state: XCR0 bits 1 and 2
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVB $1, ret+0(FP)
	RET
no:
	MOVB $0, ret+0(FP)
	RET

// func adamAVX(w, grad, m, v *float32, n int, k *adamConsts)
//
// For n/8 blocks of 8 values, exactly the operations of adamGo in the same order (no FMA), so
// both give the same bits:
//	m = b1*m + c1*g;  m = 0 where |m| < tinyM
//	v = b2*v + (c2*g)*g;  v = 0 where v < tinyV
//	w = w - (step*m) / (sqrt(v)/sq + eps)
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // c1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // c2
	VBROADCASTSS 16(AX), Y12 // step
	VBROADCASTSS 20(AX), Y13 // sq
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // tinyM
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VMULPS  (R8), Y8, Y1
	VMULPS  Y0, Y9, Y2
	VADDPS  Y2, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VSUBPS  Y1, Y2, Y2       // -m
	VMAXPS  Y1, Y2, Y2       // |m| (NaN m: not below tiny, kept)
	VCMPPS  $1, Y15, Y2, Y2  // |m| < tinyM
	VANDNPS Y1, Y2, Y1       // m = 0 there
	VMOVUPS Y1, (R8)
	VMULPS  (R9), Y10, Y3
	VMULPS  Y0, Y11, Y4
	VMULPS  Y0, Y4, Y4
	VADDPS  Y4, Y3, Y3
	VBROADCASTSS 32(AX), Y5  // tinyV
	VCMPPS  $1, Y5, Y3, Y4   // v < tinyV
	VANDNPS Y3, Y4, Y3       // v = 0 there
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VDIVPS  Y13, Y5, Y5
	VADDPS  Y14, Y5, Y5
	VMULPS  Y1, Y12, Y6
	VDIVPS  Y5, Y6, Y6
	VMOVUPS (DI), Y7
	VSUBPS  Y6, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
