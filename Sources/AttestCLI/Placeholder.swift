enum _AttestCLIPlaceholder {}
