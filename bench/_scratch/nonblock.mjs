// Experiment: make stdout a non-blocking pipe in the gateway process.
const h = process.stdout._handle;
if (h && typeof h.setBlocking === 'function') h.setBlocking(false);
