"""Lightning callbacks seqlab adds to the stock ones."""
