/*
 * The vsmmu-testdev endpoint's identity and BAR0 register map
 * (docs/test-endpoint.md): offsets, commands, status codes and bits.
 */
#ifndef VSMMU_ATS_PRI_TESTDEV_REGS_H
#define VSMMU_ATS_PRI_TESTDEV_REGS_H

#define TESTDEV_VENDOR		0x1234
#define TESTDEV_DEVICE		0x11ec
#define TESTDEV_ID_VALUE	0x534d5576u

#define REG_ID			0x000
#define REG_COMMAND		0x008
#define REG_STATUS		0x00c
#define REG_IOVA		0x010
#define REG_LEN			0x018
#define REG_FLAGS		0x01c
#define REG_PASID		0x020
#define REG_PRI			0x024
#define REG_CTRL		0x028
#define REG_PR_OUTCOME		0x02c
#define REG_TR_ADDR		0x030
#define REG_TR_INFO		0x038
#define REG_ATC_ENTRIES		0x03c
#define REG_RESP_COUNT		0x040
#define REG_INV_COUNT		0x044
#define REG_INV_ADDR		0x048
#define REG_INV_SIZE		0x050
#define REG_CAPS		0x05c
#define REG_BURST_QUEUED	0x060
#define REG_BURST_ANSWERED	0x064
#define REG_BURST_DROPPED	0x068
#define REG_RESP_RING		0x080
#define REG_RESP_TABLE		0x400
#define REG_BUFFER		0x800
#define BUFFER_SIZE		2048
#define RESP_RING_SIZE		8

/* REG_COMMAND */
enum {
	CMD_DMA_READ = 1,
	CMD_DMA_WRITE = 2,
	CMD_ATS_TRANSLATE = 3,
	CMD_PAGE_REQUEST = 4,
	CMD_STOP_MARKER = 5,
	CMD_ATC_CLEAR = 6,
	CMD_CLEAR_RESULTS = 7,
	CMD_PAGE_REQUEST_BURST = 8,
};

/* REG_STATUS */
enum {
	ST_OK = 0,
	ST_FAULT = 1,
	ST_UNSUPPORTED = 2,
	ST_INVALID = 3,
	ST_BACKEND = 4,
	ST_ATC_MISS = 5,
	ST_DISABLED = 6,
	ST_STALLED = 7,
};

#define FLAG_PASID		(1u << 0)
#define FLAG_WRITE		(1u << 1)
#define FLAG_TRANSLATED		(1u << 2)
#define PRI_LAST		(1u << 9)
#define PRI_READ		(1u << 10)
#define PRI_BURST_STOP		(1u << 12)
#define PRI_BURST_GROUPS	(1u << 13)
#define CTRL_FORCE_PRI		(1u << 0)
#define CAPS_VSMMU		(1u << 0)
#define TR_INFO_VALID		(1u << 31)
#define PERM_READ		(1u << 0)
#define PERM_WRITE		(1u << 1)
#define OUTCOME_QUEUED		0
#define OUTCOME_ANSWERED	1

/* PCIe PRG Response Codes as the endpoint records them */
#define RESP_SUCCESS		0

#endif /* VSMMU_ATS_PRI_TESTDEV_REGS_H */
