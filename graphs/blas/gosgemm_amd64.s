//go:build !purego

#include "textflag.h"

// func cpuHasAVX2FMA() bool
TEXT ·cpuHasAVX2FMA(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	// FMA (ECX bit 12), OSXSAVE (bit 27), AVX (bit 28)
	ANDL $0x18001000, CX
	CMPL CX, $0x18001000
	JNE  no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	// AVX2 (EBX bit 5)
	ANDL $0x20, BX
	JZ   no
	// XCR0: the OS saves XMM and YMM state
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

#define ROW(acc0, acc1) \
	VMOVUPS     (DX), Y1;        \
	VFMADD231PS acc0, Y0, Y1;    \
	VMOVUPS     Y1, (DX);        \
	VMOVUPS     32(DX), Y2;      \
	VFMADD231PS acc1, Y0, Y2;    \
	VMOVUPS     Y2, 32(DX);      \
	ADDQ        R8, DX

#define STEP(off) \
	VMOVUPS      (off*64)(DI), Y0;      \
	VMOVUPS      (off*64+32)(DI), Y1;   \
	VBROADCASTSS (off*24)(SI), Y2;      \
	VFMADD231PS  Y0, Y2, Y4;            \
	VFMADD231PS  Y1, Y2, Y5;            \
	VBROADCASTSS (off*24+4)(SI), Y3;    \
	VFMADD231PS  Y0, Y3, Y6;            \
	VFMADD231PS  Y1, Y3, Y7;            \
	VBROADCASTSS (off*24+8)(SI), Y2;    \
	VFMADD231PS  Y0, Y2, Y8;            \
	VFMADD231PS  Y1, Y2, Y9;            \
	VBROADCASTSS (off*24+12)(SI), Y3;   \
	VFMADD231PS  Y0, Y3, Y10;           \
	VFMADD231PS  Y1, Y3, Y11;           \
	VBROADCASTSS (off*24+16)(SI), Y2;   \
	VFMADD231PS  Y0, Y2, Y12;           \
	VFMADD231PS  Y1, Y2, Y13;           \
	VBROADCASTSS (off*24+20)(SI), Y3;   \
	VFMADD231PS  Y0, Y3, Y14;           \
	VFMADD231PS  Y1, Y3, Y15

// func kernel6x16(k int, a, b, c *float32, ldc int, alpha float32)
TEXT ·kernel6x16(SB), NOSPLIT, $0-44
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   tail

loop4:
	STEP(0)
	STEP(1)
	STEP(2)
	STEP(3)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   store

loop1:
	STEP(0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+40(FP), Y0
	ROW(Y4, Y5)
	ROW(Y6, Y7)
	ROW(Y8, Y9)
	ROW(Y10, Y11)
	ROW(Y12, Y13)
	ROW(Y14, Y15)
	VZEROUPPER
	RET
