// Point the uniCloud client at the local runtime that serves this build in the tests (same setting as
// the Vue 3 demo's vite.config.js); a real project binds its service space in HBuilderX instead.
process.env.UNI_CLOUD_PROVIDER ||= JSON.stringify([
  { provider: 'dcloud', spaceId: 'local-space', clientSecret: 'local-secret', endpoint: '/unicloud' },
]);

module.exports = {};
