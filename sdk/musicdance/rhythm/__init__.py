"""Music-dance rhythm (seed 002, MuDaR) without torch: features, the ONNX companion's
graphs, hybrid retrieval (eq. 21) and temporal retargeting (eq. 22-23). Training and export
live in :mod:`musicdance.train.mudar`."""
