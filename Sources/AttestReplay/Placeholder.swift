enum _AttestReplayPlaceholder {}
