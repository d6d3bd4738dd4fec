import { defineConfig } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';

// Point the real uniCloud client at the local runtime (provider dcloud, same-origin endpoint).
// A real deployment sets UNI_CLOUD_PROVIDER (or HBuilderX's space binding) instead.
process.env.UNI_CLOUD_PROVIDER ||= JSON.stringify([
  { provider: 'dcloud', spaceId: 'local-space', clientSecret: 'local-secret', endpoint: '/unicloud' },
]);

export default defineConfig({
  plugins: [uni()],
});
