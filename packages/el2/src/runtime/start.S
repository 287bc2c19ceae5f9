/*
 * Entry, exception vectors and guest entry/exit of the EL2 runtime.
 *
 * QEMU's `virt` machine with virtualization=on and no EL3 starts an ELF image at EL2 (its entry
 * point, MMU off). The runtime never runs anything at EL2 with interrupts unmasked: a physical
 * interrupt is taken from the guest (HCR_EL2.IMO = 1 routes it to EL2 whatever the guest's PSTATE.I)
 * or noticed by polling the GIC while idle.
 *
 * TPIDR_EL2 holds the address of the slot page of the vCPU on the CPU; X0..X30 are saved at its start
 * (abi.ts SLOT.X = 0) on every exception from the guest.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	msr	daifset, #0xf
	ldr	x0, =__stack_top
	mov	sp, x0
	ldr	x0, =el2_vectors
	msr	vbar_el2, x0
	/*
	 * CPTR_EL2 (E2H = 0): the RES1 bits 13:12 and 9:0, TFP (bit 10) clear so that EL2 and the guest
	 * may use FP/SIMD; TZ (bit 8) and TSM (bit 12) stay set: SVE and SME are off in this CPU model.
	 */
	mov	x0, #0x33ff
	msr	cptr_el2, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	bl	el2_main
	b	enter_guest

/* A fault inside the runtime itself: report it and stop (el2_panic never returns). */
.macro	el2_fault kind
	.balign	0x80
	mov	x0, #\kind
	b	el2_panic_entry
.endm

/* An exception from the guest: X0/X1 go to the stack until TPIDR_EL2 gives the slot page. */
.macro	guest_trap kind
	.balign	0x80
	stp	x0, x1, [sp, #-16]!
	mov	x1, #\kind
	b	guest_exit
.endm

	.text
	.balign	0x800
	.global	el2_vectors
el2_vectors:
	el2_fault 0	/* current EL, SP_EL0: sync */
	el2_fault 1
	el2_fault 2
	el2_fault 3
	el2_fault 4	/* current EL, SP_EL2: sync */
	el2_fault 5
	el2_fault 6
	el2_fault 7
	guest_trap 0	/* lower EL, AArch64: sync */
	guest_trap 1	/* IRQ */
	guest_trap 2	/* FIQ */
	guest_trap 3	/* SError */
	guest_trap 4	/* lower EL, AArch32: never entered (HCR_EL2.RW = 1, AArch32 CPSRs refused) */
	guest_trap 4
	guest_trap 4
	guest_trap 4

el2_panic_entry:
	ldr	x1, =__stack_top
	mov	sp, x1
	bl	el2_panic
3:	wfi
	b	3b

guest_exit:
	mrs	x0, tpidr_el2
	stp	x2, x3, [x0, #16]
	stp	x4, x5, [x0, #32]
	stp	x6, x7, [x0, #48]
	stp	x8, x9, [x0, #64]
	stp	x10, x11, [x0, #80]
	stp	x12, x13, [x0, #96]
	stp	x14, x15, [x0, #112]
	stp	x16, x17, [x0, #128]
	stp	x18, x19, [x0, #144]
	stp	x20, x21, [x0, #160]
	stp	x22, x23, [x0, #176]
	stp	x24, x25, [x0, #192]
	stp	x26, x27, [x0, #208]
	stp	x28, x29, [x0, #224]
	str	x30, [x0, #240]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0, #0]
	mov	x0, x1
	bl	el2_trap
	/* fall through: el2_trap returns the slot page to enter */

	.global	enter_guest
enter_guest:
	msr	tpidr_el2, x0
	ldp	x2, x3, [x0, #16]
	ldp	x4, x5, [x0, #32]
	ldp	x6, x7, [x0, #48]
	ldp	x8, x9, [x0, #64]
	ldp	x10, x11, [x0, #80]
	ldp	x12, x13, [x0, #96]
	ldp	x14, x15, [x0, #112]
	ldp	x16, x17, [x0, #128]
	ldp	x18, x19, [x0, #144]
	ldp	x20, x21, [x0, #160]
	ldp	x22, x23, [x0, #176]
	ldp	x24, x25, [x0, #192]
	ldp	x26, x27, [x0, #208]
	ldp	x28, x29, [x0, #224]
	ldr	x30, [x0, #240]
	ldp	x0, x1, [x0, #0]
	eret

/* FP/SIMD state of a slot: Q0..Q31 at x0, then FPCR and FPSR at x1 (fp_save(q, fpcr_fpsr)). */
	.global	fp_save
fp_save:
	stp	q0, q1, [x0, #0]
	stp	q2, q3, [x0, #32]
	stp	q4, q5, [x0, #64]
	stp	q6, q7, [x0, #96]
	stp	q8, q9, [x0, #128]
	stp	q10, q11, [x0, #160]
	stp	q12, q13, [x0, #192]
	stp	q14, q15, [x0, #224]
	stp	q16, q17, [x0, #256]
	stp	q18, q19, [x0, #288]
	stp	q20, q21, [x0, #320]
	stp	q22, q23, [x0, #352]
	stp	q24, q25, [x0, #384]
	stp	q26, q27, [x0, #416]
	stp	q28, q29, [x0, #448]
	stp	q30, q31, [x0, #480]
	mrs	x2, fpcr
	mrs	x3, fpsr
	stp	x2, x3, [x1]
	ret

	.global	fp_load
fp_load:
	ldp	q0, q1, [x0, #0]
	ldp	q2, q3, [x0, #32]
	ldp	q4, q5, [x0, #64]
	ldp	q6, q7, [x0, #96]
	ldp	q8, q9, [x0, #128]
	ldp	q10, q11, [x0, #160]
	ldp	q12, q13, [x0, #192]
	ldp	q14, q15, [x0, #224]
	ldp	q16, q17, [x0, #256]
	ldp	q18, q19, [x0, #288]
	ldp	q20, q21, [x0, #320]
	ldp	q22, q23, [x0, #352]
	ldp	q24, q25, [x0, #384]
	ldp	q26, q27, [x0, #416]
	ldp	q28, q29, [x0, #448]
	ldp	q30, q31, [x0, #480]
	ldp	x2, x3, [x1]
	msr	fpcr, x2
	msr	fpsr, x3
	ret
