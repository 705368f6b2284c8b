// The test copies this app to a temporary directory (its node_modules links to
// tests/js's), starts `vite` there, and edits title.js to see a hot update.
export default {
  // Dependency pre-bundles go where the test says, not into the repository.
  cacheDir: process.env.APP_VITE_CACHE || 'node_modules/.vite',
  clearScreen: false,
  logLevel: 'info',
};
