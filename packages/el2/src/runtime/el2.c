/*
 * The EL2 runtime: a small hypervisor that runs the host's vCPUs at EL1/EL0 of QEMU's `virt`
 * machine (one emulated CPU), so that their syndromes, fault addresses and return addresses come
 * from QEMU's implementation of the Arm architecture.
 *
 * The host owns all state: the stage-2 tables, every vCPU's registers (one slot page each) and the
 * VM-wide settings in the control page, all in RAM it shares with QEMU (abi.ts). It rings one-byte
 * doorbells over the PL011 UART; the runtime takes the UART's receive interrupt while a guest runs,
 * so a cancel is served mid-run. Several runs may be in flight (one per logical thread of the
 * host); the runtime time-slices them with the EL2 physical timer and answers each with DONE + slot
 * when its exit record is in the slot page.
 *
 * Trapping follows what Hypervisor.framework does for a VM without EL2 and without its GIC
 * (hvf-facts.md §2.3-§2.8): WFI/WFE (HCR_EL2.TWI/TWE), HVC (always), SMC (TSC), PMU and OS-lock
 * registers (MDCR_EL2.TPM/TPMCR/TDOSA), the physical counter and timer (CNTHCTL_EL2.EL1PCTEN/EL1PCEN),
 * the GIC CPU interface (ICH_HCR_EL2.TALL0/TALL1/TC, ICC_SRE_EL2.Enable = 0), debug exceptions and
 * debug-register accesses on request (MDCR_EL2.TDE/TDA). Identification registers are read by the
 * runtime on the guest's behalf (HCR_EL2.TID3) from the values the host keeps for the vCPU.
 */
#include "gen/abi.h"
#include "gen/sysregs.h"

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define read_sysreg(r)                                     \
	({                                                     \
		u64 __v;                                           \
		__asm__ volatile("mrs %0, " #r : "=r"(__v));       \
		__v;                                               \
	})
#define write_sysreg(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((u64)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb() __asm__ volatile("dsb sy" ::: "memory")

#define MMIO32(a) (*(volatile u32 *)(unsigned long)(a))
#define CTRLF(off) (*(volatile u64 *)(unsigned long)(RAM_BASE + CTRL_OFFSET + (off)))

static inline volatile u8 *slot_page(int s)
{
	return (volatile u8 *)(unsigned long)(RAM_BASE + SLOT_OFFSET + (u64)s * SLOT_SIZE);
}
#define SLOTF(s, off) (*(volatile u64 *)(slot_page(s) + (off)))

void fp_save(volatile void *q, volatile void *fpcr_fpsr);
void fp_load(volatile void *q, volatile void *fpcr_fpsr);

/* ---- PL011 UART (virt: 0x0900_0000, SPI 1 = INTID 33) ------------------------------------------- */

#define UART 0x09000000UL
#define UART_DR 0x00
#define UART_FR 0x18
#define UART_LCRH 0x2c
#define UART_CR 0x30
#define UART_IMSC 0x38
#define UART_ICR 0x44
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define INTID_UART 33

static void uart_put(u8 c)
{
	while (MMIO32(UART + UART_FR) & FR_TXFF)
		;
	MMIO32(UART + UART_DR) = c;
}

static int uart_get(void)
{
	if (MMIO32(UART + UART_FR) & FR_RXFE)
		return -1;
	return (int)(MMIO32(UART + UART_DR) & 0xff);
}

static void uart_init(void)
{
	MMIO32(UART + UART_CR) = 0;
	MMIO32(UART + UART_LCRH) = 0x70; /* 8 bits, FIFOs on */
	MMIO32(UART + UART_ICR) = 0x7ff;
	MMIO32(UART + UART_IMSC) = 1u << 4; /* receive */
	MMIO32(UART + UART_CR) = 0x301; /* UARTEN, TXE, RXE */
}

/* ---- GICv3 (virt: distributor 0x0800_0000, redistributor of CPU 0 at 0x080a_0000) ----------------- */

#define GICD 0x08000000UL
#define GICR 0x080a0000UL
#define GICR_SGI (GICR + 0x10000UL)
#define INTID_HYP_TIMER 26
#define INTID_VTIMER 27

static void gic_wait_rwp(void)
{
	while (MMIO32(GICD) & (1u << 31))
		;
}

static void gic_init(void)
{
	MMIO32(GICD) = 0;
	gic_wait_rwp();
	/* Single security state (no EL3): ARE, EnableGrp1, EnableGrp0. */
	MMIO32(GICD) = (1u << 4) | (1u << 1) | 1u;
	gic_wait_rwp();
	MMIO32(GICD + 0x80 + 4) |= 1u << (INTID_UART - 32); /* IGROUPR1: group 1 */
	((volatile u8 *)(GICD + 0x400))[INTID_UART] = 0xa0;
	*(volatile u64 *)(GICD + 0x6000 + 8 * INTID_UART) = 0; /* IROUTER: CPU 0 */
	MMIO32(GICD + 0x100 + 4) = 1u << (INTID_UART - 32); /* ISENABLER1 */

	MMIO32(GICR + 0x14) &= ~(1u << 1); /* WAKER.ProcessorSleep = 0 */
	while (MMIO32(GICR + 0x14) & (1u << 2))
		;
	MMIO32(GICR_SGI + 0x180) = 0xffffffffu; /* ICENABLER0 */
	MMIO32(GICR_SGI + 0x80) = 0xffffffffu; /* IGROUPR0: group 1 */
	((volatile u8 *)(GICR_SGI + 0x400))[INTID_HYP_TIMER] = 0xa0;
	((volatile u8 *)(GICR_SGI + 0x400))[INTID_VTIMER] = 0xa0;
	MMIO32(GICR_SGI + 0x100) = 1u << INTID_HYP_TIMER;

	/*
	 * ICC_SRE_EL2: SRE, DFB, DIB; Enable (bit 3) clear, so that the guest's accesses to
	 * ICC_SRE_EL1 trap to EL2 (GICv3 architecture, ICC_SRE_EL2.Enable). With SRE RAO/WI an
	 * implementation may make Enable RAO/WI too (QEMU does): the value read back tells the host.
	 */
	write_sysreg(S3_4_C12_C9_5, 0x7);
	isb();
	CTRLF(CTRL_ICC_SRE_EL2) = read_sysreg(S3_4_C12_C9_5);
	write_sysreg(S3_0_C4_C6_0, 0xff); /* ICC_PMR_EL1 */
	write_sysreg(S3_0_C12_C12_3, 0); /* ICC_BPR1_EL1 */
	write_sysreg(S3_0_C12_C12_4, 0); /* ICC_CTLR_EL1: EOImode 0 */
	write_sysreg(S3_0_C12_C12_7, 1); /* ICC_IGRPEN1_EL1 */
	/* ICH_HCR_EL2: TC | TALL0 | TALL1: the guest's other ICC/ICV accesses trap to EL2. */
	write_sysreg(S3_4_C12_C11_0, (1u << 10) | (1u << 11) | (1u << 12));
	isb();
}

static u32 gic_ack(void)
{
	u64 v = read_sysreg(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
	dsb();
	return (u32)(v & 0xffffff);
}

static void gic_eoi(u32 intid)
{
	write_sysreg(S3_0_C12_C12_1, intid); /* ICC_EOIR1_EL1 */
	isb();
}

static void vtimer_irq_enable(int on)
{
	MMIO32(GICR_SGI + (on ? 0x100 : 0x180)) = 1u << INTID_VTIMER;
	dsb();
}

/* ---- run state ------------------------------------------------------------------------------------ */

/* EL1 state of the guests: VM, SWIO, FMO, IMO, AMO, TWI, TWE, TID3, TSC, RW, APK, API, EnSCXT. */
#define HCR_BASE                                                                                   \
	((1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 13) |          \
	 (1ull << 14) | (1ull << 18) | (1ull << 19) | (1ull << 31) | (1ull << 40) | (1ull << 41) |      \
	 (1ull << 53))
#define HCR_VF (1ull << 6)
#define HCR_VI (1ull << 7)
/* MDCR_EL2: TPMCR, TPM, TDOSA; TDE and TDA per vCPU. HPMN comes from the reset value. */
#define MDCR_TPMCR (1ull << 5)
#define MDCR_TPM (1ull << 6)
#define MDCR_TDE (1ull << 8)
#define MDCR_TDA (1ull << 9)
#define MDCR_TDOSA (1ull << 10)

enum { IDLE = 0, RUNNABLE = 1 };
enum { KIND_SYNC = 0, KIND_IRQ = 1, KIND_FIQ = 2, KIND_SERROR = 3, KIND_AARCH32 = 4 };

static u8 slot_state[MAX_SLOTS];
static int current = -1; /* slot whose state is in the CPU while a guest runs */
static int last_ran = -1; /* slot whose stage-1 context the TLBs may hold */
static int rr_next;
static u64 seen_tlb_gen;
static u64 mdcr_hpmn;
static u64 last_heartbeat;
static u64 cntfrq;

/* Exit decided while handling a trap; reported once the trap is handled. */
static int pending_exit; /* 0: none, else 1 + reason */

static void reply(u8 b) { uart_put(b); }

static void tlb_flush(void)
{
	dsb();
	__asm__ volatile("tlbi vmalls12e1\n\tdsb sy\n\tisb" ::: "memory");
}

/* ---- panics ------------------------------------------------------------------------------------- */

static void put_message(const char *m)
{
	volatile char *out = (volatile char *)(unsigned long)(RAM_BASE + CTRL_OFFSET + CTRL_MESSAGE);
	int i = 0;
	for (; m[i] && i < 255; i++)
		out[i] = m[i];
	out[i] = 0;
}

void el2_panic(u64 kind)
{
	volatile u64 *p = &CTRLF(CTRL_PANIC);
	p[0] = kind;
	p[1] = read_sysreg(esr_el2);
	p[2] = read_sysreg(elr_el2);
	p[3] = read_sysreg(far_el2);
	p[4] = read_sysreg(spsr_el2);
	put_message("exception taken at EL2 by the runtime itself");
	dsb();
	reply(DB_OUT_PANIC);
}

/* ---- slot save and load --------------------------------------------------------------------------- */

static int cpsr_runnable(u64 cpsr)
{
	u64 m = cpsr & 0x1f;
	/* EL0t, EL1t, EL1h only: no EL2/EL3 (EL2 is not enabled for the VM), no AArch32, no reserved M. */
	return m == 0x0 || m == 0x4 || m == 0x5;
}

static void save_slot(int s)
{
	volatile u8 *p = slot_page(s);
	sysregs_save((volatile u64 *)(p + SLOT_SYS));
	fp_save(p + SLOT_Q, p + SLOT_FPCR);
	SLOTF(s, SLOT_PC) = read_sysreg(elr_el2);
	SLOTF(s, SLOT_CPSR) = read_sysreg(spsr_el2);
	/* The guest's vtimer must not fire while no guest runs. */
	vtimer_irq_enable(0);
	write_sysreg(cntv_ctl_el0, 0);
	isb();
}

static void load_slot(int s)
{
	volatile u8 *p = slot_page(s);
	u64 flags = SLOTF(s, SLOT_FLAGS);
	u64 hcr = HCR_BASE;
	u64 mdcr = mdcr_hpmn | MDCR_TPMCR | MDCR_TPM | MDCR_TDOSA;
	if (flags & RUN_FLAG_IRQ)
		hcr |= HCR_VI;
	if (flags & RUN_FLAG_FIQ)
		hcr |= HCR_VF;
	if (flags & RUN_FLAG_TRAP_DEBUG_EXCEPTIONS)
		mdcr |= MDCR_TDE;
	if (flags & RUN_FLAG_TRAP_DEBUG_REG_ACCESSES)
		mdcr |= MDCR_TDA;
	write_sysreg(hcr_el2, hcr);
	write_sysreg(mdcr_el2, mdcr);
	write_sysreg(vtcr_el2, CTRLF(CTRL_VTCR));
	write_sysreg(vttbr_el2, CTRLF(CTRL_VTTBR));
	write_sysreg(cntvoff_el2, SLOTF(s, SLOT_VTIMER_OFFSET));
	isb();
	sysregs_load((volatile u64 *)(p + SLOT_SYS));
	fp_load(p + SLOT_Q, p + SLOT_FPCR);
	write_sysreg(elr_el2, SLOTF(s, SLOT_PC));
	write_sysreg(spsr_el2, SLOTF(s, SLOT_CPSR));
	isb();
	/* One VMID for every vCPU: another vCPU's stage-1 entries must not survive a switch. */
	u64 gen = CTRLF(CTRL_TLB_GEN);
	if (gen != seen_tlb_gen || last_ran != s) {
		tlb_flush();
		seen_tlb_gen = gen;
	}
	last_ran = s;
	vtimer_irq_enable(!(flags & RUN_FLAG_VTIMER_MASKED));
}

static void finish(int s, u64 status, u64 reason, u64 esr, u64 far, u64 ipa, u64 fired)
{
	SLOTF(s, SLOT_STATUS) = status;
	SLOTF(s, SLOT_REASON) = reason;
	SLOTF(s, SLOT_ESR) = esr;
	SLOTF(s, SLOT_FAR) = far;
	SLOTF(s, SLOT_IPA) = ipa;
	SLOTF(s, SLOT_VTIMER_FIRED) = fired;
	SLOTF(s, SLOT_OUT_SEQ) = SLOTF(s, SLOT_IN_SEQ);
	slot_state[s] = IDLE;
	dsb();
	reply((u8)(DB_OUT_DONE + s));
}

/* ---- doorbells ------------------------------------------------------------------------------------ */

static void store_back(u64 pa, u64 len)
{
	/*
	 * QEMU drops translated code when the guest CPU stores to a page that holds some; the host's
	 * own writes to the shared RAM file bypass that. Storing each byte back in place from here
	 * makes QEMU see the write. Aligned 8-byte stores where possible.
	 */
	u64 end = pa + len;
	while (pa < end && (pa & 7)) {
		volatile u8 *b = (volatile u8 *)(unsigned long)pa;
		*b = *b;
		pa++;
	}
	for (; pa + 8 <= end; pa += 8) {
		volatile u64 *w = (volatile u64 *)(unsigned long)pa;
		*w = *w;
	}
	for (; pa < end; pa++) {
		volatile u8 *b = (volatile u8 *)(unsigned long)pa;
		*b = *b;
	}
}

static void cancel_slot(int s)
{
	if (s == current) {
		pending_exit = 1 + 0; /* HV_EXIT_REASON_CANCELED */
		return;
	}
	if (slot_state[s] == RUNNABLE)
		finish(s, RUN_STATUS_EXIT, 0, 0, 0, 0, 0);
}

static void doorbell(int b)
{
	if (b < 0x40) {
		if (b < (int)MAX_SLOTS && slot_state[b] == IDLE && b != current)
			slot_state[b] = RUNNABLE;
		return;
	}
	if (b < 0x80) {
		if (b - 0x40 < (int)MAX_SLOTS)
			cancel_slot(b - 0x40);
		return;
	}
	switch (b) {
	case DB_PING:
		reply(DB_OUT_PONG);
		break;
	case DB_RESET:
		for (int s = 0; s < (int)MAX_SLOTS; s++)
			if (slot_state[s] == RUNNABLE || s == current) {
				SLOTF(s, SLOT_STATUS) = RUN_STATUS_ABORTED;
				slot_state[s] = IDLE;
			}
		/*
		 * Drop the guest without an exit record. `current` is forgotten at once: the host's next
		 * requests (a new RUN of the same slot among them) may arrive in this same drain loop.
		 */
		if (current >= 0) {
			pending_exit = -1;
			current = -1;
		}
		last_ran = -1;
		tlb_flush();
		reply(DB_OUT_RESET_DONE);
		break;
	case DB_TLB_FLUSH:
		tlb_flush();
		seen_tlb_gen = CTRLF(CTRL_TLB_GEN);
		reply(DB_OUT_FLUSHED);
		break;
	case DB_INVALIDATE: {
		u64 n = CTRLF(CTRL_NRANGES);
		volatile u64 *r = &CTRLF(CTRL_RANGES);
		for (u64 i = 0; i < n && i < MAX_RANGES; i++)
			store_back(r[2 * i], r[2 * i + 1]);
		dsb();
		reply(DB_OUT_INVALIDATED);
		break;
	}
	case DB_GICD: {
		/* One access to the distributor, for the host's test of its software GIC (abi.ts, DB.GICD). */
		u64 off = CTRLF(CTRL_GICD_REG), acc = CTRLF(CTRL_GICD_ACCESS);
		u64 size = acc & 0xff;
		if (off < 0x10000 && (size == 1 || size == 4 || size == 8) && off % size == 0) {
			unsigned long a = GICD + off;
			if (acc & 0x100) {
				u64 v = CTRLF(CTRL_GICD_VALUE);
				if (size == 1)
					*(volatile u8 *)a = (u8)v;
				else if (size == 4)
					MMIO32(a) = (u32)v;
				else
					*(volatile u64 *)a = v;
				dsb();
			} else
				CTRLF(CTRL_GICD_VALUE) = size == 1 ? *(volatile u8 *)a
						       : size == 4 ? MMIO32(a)
								   : *(volatile u64 *)a;
		}
		reply(DB_OUT_GICD_DONE);
		break;
	}
	default:
		break;
	}
}

static void drain_uart(void)
{
	int b;
	while ((b = uart_get()) >= 0)
		doorbell(b);
}

/* ---- the EL2 timer: heartbeat and time slices ----------------------------------------------------- */

static int others_runnable(void)
{
	for (int s = 0; s < (int)MAX_SLOTS; s++)
		if (s != current && slot_state[s] == RUNNABLE)
			return 1;
	return 0;
}

static void arm_hyp_timer(void)
{
	/* 4 ms slices while other runs wait; otherwise only the heartbeat (about 4 per second). */
	u64 ticks = others_runnable() ? cntfrq / 250 : cntfrq / 4;
	write_sysreg(cnthp_tval_el2, ticks);
	write_sysreg(cnthp_ctl_el2, 1);
	isb();
}

static void heartbeat(void)
{
	u64 now = read_sysreg(cntpct_el0);
	if (now - last_heartbeat >= cntfrq / 4) {
		last_heartbeat = now;
		reply(DB_OUT_HEARTBEAT);
	}
}

/* ---- scheduling ------------------------------------------------------------------------------------- */

static int pick(void)
{
	for (int i = 0; i < (int)MAX_SLOTS; i++) {
		int s = (rr_next + i) % (int)MAX_SLOTS;
		if (slot_state[s] == RUNNABLE) {
			rr_next = (s + 1) % (int)MAX_SLOTS;
			return s;
		}
	}
	return -1;
}

/* Polls the GIC while no guest runs (PSTATE.I is masked at EL2; WFI still wakes on a pending IRQ). */
static void service_idle(void)
{
	u32 id;
	while ((id = gic_ack()) < 1020) {
		if (id == INTID_UART)
			drain_uart();
		else if (id == INTID_HYP_TIMER)
			write_sysreg(cnthp_ctl_el2, 2);
		gic_eoi(id);
	}
}

static volatile u8 *enter(int s)
{
	current = s;
	pending_exit = 0;
	load_slot(s);
	arm_hyp_timer();
	return slot_page(s);
}

/* Waits for a runnable slot whose CPSR the guest may run in, and enters it. */
static volatile u8 *schedule(void)
{
	current = -1;
	write_sysreg(cnthp_ctl_el2, 2);
	for (;;) {
		drain_uart();
		int s = pick();
		if (s >= 0) {
			if (!cpsr_runnable(SLOTF(s, SLOT_CPSR))) {
				finish(s, RUN_STATUS_ILLEGAL_STATE, 0, 0, 0, 0, 0);
				continue;
			}
			return enter(s);
		}
		__asm__ volatile("wfi");
		service_idle();
	}
}

/*
 * The cache identification registers a vCPU configuration reports (hv_vcpu_config_get_feature_reg and
 * hv_vcpu_config_get_ccsidr_el1_sys_reg_values): CCSIDR_EL1 of each level and kind CLIDR_EL1 names,
 * selected through CSSELR_EL1 (Arm ARM D19, CLIDR_EL1.Ctype<n>, CSSELR_EL1, CCSIDR_EL1); 0 where the
 * level has no cache of that kind.
 */
static void caches_boot(void)
{
	u64 clidr = read_sysreg(clidr_el1);
	CTRLF(CTRL_CTR_EL0) = read_sysreg(ctr_el0);
	CTRLF(CTRL_CLIDR_EL1) = clidr;
	CTRLF(CTRL_DCZID_EL0) = read_sysreg(dczid_el0);
	for (int level = 0; level < 8; level++) {
		unsigned ctype = level < 7 ? (unsigned)(clidr >> (3 * level)) & 7 : 0;
		u64 data = 0, instr = 0;
		if (ctype >= 2 && ctype <= 4) {
			write_sysreg(csselr_el1, (u64)level << 1);
			isb();
			data = read_sysreg(ccsidr_el1);
		}
		if (ctype == 1 || ctype == 3) {
			write_sysreg(csselr_el1, ((u64)level << 1) | 1);
			isb();
			instr = read_sysreg(ccsidr_el1);
		}
		(&CTRLF(CTRL_CCSIDR))[level] = data;
		(&CTRLF(CTRL_CCSIDR))[8 + level] = instr;
	}
	write_sysreg(csselr_el1, 0);
	isb();
}

volatile u8 *el2_main(void)
{
	cntfrq = read_sysreg(cntfrq_el0);
	mdcr_hpmn = read_sysreg(mdcr_el2) & 0x1f;
	/* CNTHCTL_EL2: EL1PCTEN = EL1PCEN = 0: the guest's physical counter and timer accesses trap. */
	write_sysreg(cnthctl_el2, 0);
	write_sysreg(hcr_el2, HCR_BASE);
	isb();
	uart_init();
	gic_init();
	CTRLF(CTRL_CNTFRQ) = cntfrq;
	CTRLF(CTRL_NSYSREGS) = NSYSREGS;
	for (int i = 0; i < NSYSREGS; i++)
		(&CTRLF(CTRL_SYSREG_TABLE))[i] = sysreg_table[i];
	sysregs_boot(&CTRLF(CTRL_SYSREG_BOOT));
	caches_boot();
	CTRLF(CTRL_VERSION) = ABI_VERSION;
	CTRLF(CTRL_MAGIC) = MAGIC;
	dsb();
	reply(DB_OUT_READY);
	return schedule();
}

/* ---- exits ------------------------------------------------------------------------------------------ */

static u64 fault_ipa(u64 esr, u64 far)
{
	/*
	 * HPFAR_EL2.FIPA holds IPA[51:12] in bits [43:4] for a stage-2 abort (Arm ARM D19.2, HPFAR_EL2);
	 * the byte offset within the page is the same in the VA (FAR_EL2) since no granule is smaller
	 * than 4 KiB. For a fault on a stage-1 table walk (S1PTW) FAR is the VA being translated, not
	 * the descriptor's, so only the page is known.
	 */
	u64 page = (read_sysreg(hpfar_el2) & 0xffffffffff0ull) << 8;
	if (esr & (1u << 7))
		return page;
	return page | (far & 0xfff);
}

/* Reads of the ID registers HCR_EL2.TID3 traps, answered from the vCPU's values. */
static int emulate_id_read(int s, u64 esr)
{
	u32 iss = (u32)(esr & 0x1ffffff);
	if (!(iss & 1))
		return 0; /* a write: not an ID register access the framework would answer */
	u32 op0 = (iss >> 20) & 3, op2 = (iss >> 17) & 7, op1 = (iss >> 14) & 7;
	u32 crn = (iss >> 10) & 15, rt = (iss >> 5) & 31, crm = (iss >> 1) & 15;
	u32 enc = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
	int i = sysreg_id_index(enc);
	if (i < 0)
		return 0;
	if (rt != 31)
		SLOTF(s, SLOT_X + 8 * rt) = ((volatile u64 *)(slot_page(s) + SLOT_SYS))[i];
	write_sysreg(elr_el2, read_sysreg(elr_el2) + 4);
	return 1;
}

/*
 * Debug-register accesses that trap only because of MDCR_EL2.TDE: while TDE is 1 the PE behaves as if
 * MDCR_EL2.TDA were 1 (Arm ARM D19, MDCR_EL2.TDE), so asking for debug exceptions
 * (hv_vcpu_set_trap_debug_exceptions) makes every access to DBGBVR/BCR/WVR/WCRn and MDSCR_EL1 trap too. The framework exits
 * for those only when the host asked for it (hv_vcpu_set_trap_debug_reg_accesses, hvf-facts.md §2.4
 * [H]); otherwise the access is the guest's own, so the runtime performs it on the guest's live
 * register and the guest goes on.
 */
static int emulate_debug_access(int s, u64 esr)
{
	u64 flags = SLOTF(s, SLOT_FLAGS);
	if ((flags & RUN_FLAG_TRAP_DEBUG_REG_ACCESSES) || !(flags & RUN_FLAG_TRAP_DEBUG_EXCEPTIONS))
		return 0;
	u32 iss = (u32)(esr & 0x1ffffff);
	u32 op0 = (iss >> 20) & 3, op2 = (iss >> 17) & 7, op1 = (iss >> 14) & 7;
	u32 crn = (iss >> 10) & 15, rt = (iss >> 5) & 31, crm = (iss >> 1) & 15;
	int read = iss & 1;
	u32 enc = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
	if (op0 != 2)
		return 0;
	u64 v = (read || rt == 31) ? 0 : SLOTF(s, SLOT_X + 8 * rt);
	if (!sysreg_debug_access(enc, !read, &v))
		return 0;
	isb();
	if (read && rt != 31)
		SLOTF(s, SLOT_X + 8 * rt) = v;
	write_sysreg(elr_el2, read_sysreg(elr_el2) + 4);
	return 1;
}

static void exit_to_host(int s, u64 reason, u64 esr)
{
	u64 far = 0, ipa = 0;
	if (reason == 1) {
		u32 ec = (u32)(esr >> 26) & 0x3f;
		u64 f = read_sysreg(far_el2);
		/* FAR_EL2 is valid for aborts, PC alignment and watchpoints; HPFAR_EL2 for stage-2 aborts. */
		if (ec == 0x20 || ec == 0x24) {
			far = f;
			ipa = fault_ipa(esr, f);
		} else if (ec == 0x22 || ec == 0x34) {
			far = f;
		}
	}
	save_slot(s);
	finish(s, RUN_STATUS_EXIT, reason, esr, far, ipa, reason == 2);
}

static void handle_irqs(int s)
{
	u32 id;
	while ((id = gic_ack()) < 1020) {
		if (id == INTID_VTIMER) {
			/* The framework masks the vtimer on this exit (hvf-facts.md §2.6). */
			vtimer_irq_enable(0);
			if (pending_exit == 0)
				pending_exit = 1 + 2;
		} else if (id == INTID_UART) {
			drain_uart();
		} else if (id == INTID_HYP_TIMER) {
			write_sysreg(cnthp_ctl_el2, 2);
			heartbeat();
			if (pending_exit == 0 && others_runnable())
				pending_exit = 100; /* preempt */
		}
		gic_eoi(id);
	}
	(void)s;
}

volatile u8 *el2_trap(u64 kind)
{
	int s = current;
	if (s < 0) {
		el2_panic(16 + kind);
		for (;;)
			__asm__ volatile("wfi");
	}
	if (kind == KIND_SYNC || kind == KIND_SERROR || kind == KIND_AARCH32) {
		u64 esr = read_sysreg(esr_el2);
		u32 ec = (u32)(esr >> 26) & 0x3f;
		if (kind == KIND_SYNC && ec == 0x18 && (emulate_id_read(s, esr) || emulate_debug_access(s, esr)))
			return slot_page(s);
		exit_to_host(s, 1, esr);
		return schedule();
	}
	if (kind == KIND_IRQ || kind == KIND_FIQ)
		handle_irqs(s);
	if (pending_exit == 0) {
		arm_hyp_timer();
		return slot_page(s);
	}
	if (pending_exit == -1) {
		/* reset: the slot was already marked aborted */
		vtimer_irq_enable(0);
		return schedule();
	}
	if (pending_exit == 100) {
		save_slot(s);
		slot_state[s] = RUNNABLE;
		return schedule();
	}
	exit_to_host(s, (u64)(pending_exit - 1), 0);
	return schedule();
}
