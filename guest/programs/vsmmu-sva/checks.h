/*
 * The SVA scenarios (docs/sva.md). Each prints its CHECK lines.
 */
#ifndef VSMMU_SVA_CHECKS_H
#define VSMMU_SVA_CHECKS_H

void check_bind_dma(void);
void check_iopf(void);
void check_iopf_abort(void);
void check_munmap(void);
void check_exit(void);
void check_scale(int processes);
void check_pri_teardown(void);
void check_teardown(void);
void check_buggy_tlbi(void);
void check_buggy_cfgi(void);

#endif /* VSMMU_SVA_CHECKS_H */
