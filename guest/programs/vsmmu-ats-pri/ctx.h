/*
 * The state every part of vsmmu-ats-pri works on (one endpoint taken
 * through VFIO) and the IOVA layout the program sets up.
 */
#ifndef VSMMU_ATS_PRI_CTX_H
#define VSMMU_ATS_PRI_CTX_H

#include <stdbool.h>
#include <stdint.h>

/* Guest physical layout of the test's IOVAs (VFIO type1, any free IOVA) */
#define IOVA_RW		0x100000ull	/* 64 KiB read-write */
#define IOVA_RO		0x200000ull	/* 4 KiB read-only */
#define IOVA_INV	0x300000ull	/* 4 KiB, unmapped by atc-inv */
#define IOVA_UNMAPPED	0x7654000ull	/* never mapped */
#define IOVA_REMAP	0x400000ull	/* remap: one page, two backings */
#define IOVA_STORM	0x800000ull	/* remap: mapped/unmapped by a thread */
#define RW_SIZE		0x10000
#define PAGE		4096

struct ctx {
	char bdf[32];
	char sysdev[128];
	unsigned int rid;		/* requester ID = StreamID on virt */
	int container, group, device;
	volatile uint8_t *bar;
	uint64_t cfg_offset;		/* config space region in the device fd */
	bool vsmmu;			/* REG_CAPS: ATS/PRI available */
	uint8_t *rw, *ro, *inv;		/* host buffers behind IOVA_RW/RO/INV */
	bool inv_mapped;
	unsigned int priq_entries;	/* pri-overflow: entries of the PRI queue */
	unsigned int groups;		/* pri-overflow: page request groups */
};

#endif /* VSMMU_ATS_PRI_CTX_H */
