"""Signal-chain stages around the model: noise gate, EQ, cabinet IR (nopython kernels behind small classes)."""
