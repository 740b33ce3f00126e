import SMMU
