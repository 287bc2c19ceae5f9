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

/*
 * \op (stp or ldp) on the register pairs from \reg<from> to \reg<to>, \size bytes a register, at x0:
 * register n at [x0, #n * \size]. Written once for the X registers of the slot page and the Q registers
 * of fp_save/fp_load. %(expr) computes the register numbers, so the file assembles in .altmacro mode.
 */
	.altmacro
.macro	reg_pair op, reg, size, a, b
	\op	\reg\a, \reg\b, [x0, #(\a * \size)]
.endm
.macro	reg_pairs op, reg, size, from, to
	reg_pair	\op, \reg, \size, \from, %(\from + 1)
	.if	\from + 1 < \to
	reg_pairs	\op, \reg, \size, %(\from + 2), \to
	.endif
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
	reg_pairs	stp, x, 8, 2, 29
	str	x30, [x0, #240]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0, #0]
	mov	x0, x1
	bl	el2_trap
	/* fall through: el2_trap returns the slot page to enter */

	.global	enter_guest
enter_guest:
	msr	tpidr_el2, x0
	reg_pairs	ldp, x, 8, 2, 29
	ldr	x30, [x0, #240]
	ldp	x0, x1, [x0, #0]
	eret

/* FP/SIMD state of a slot: Q0..Q31 at x0, then FPCR and FPSR at x1 (fp_save(q, fpcr_fpsr)). */
	.global	fp_save
fp_save:
	reg_pairs	stp, q, 16, 0, 31
	mrs	x2, fpcr
	mrs	x3, fpsr
	stp	x2, x3, [x1]
	ret

	.global	fp_load
fp_load:
	reg_pairs	ldp, q, 16, 0, 31
	ldp	x2, x3, [x1]
	msr	fpcr, x2
	msr	fpsr, x3
	ret
