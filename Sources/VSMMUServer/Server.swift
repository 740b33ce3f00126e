import CVSMMU
