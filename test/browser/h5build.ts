/** Makes sure dist/build/h5 is a build of the current demo sources (see tools/h5build.ts). */
export { ensureH5Build, H5_DIR, ROOT } from '../../tools/h5build';
