// Lint: typescript-eslint's recommended rules, tuned to this codebase's conventions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    // test/vue2-h5/src/uni_modules: the Vue 2 sub-project's build-time copy of the plugin
    ignores: ['**/node_modules/**', '**/dist/**', 'unpackage/**', '.data/**', 'coverage/**', 'test/vue2-h5/src/uni_modules/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        ...globals.node,
        ...globals.browser,
        uni: 'readonly',
        uniCloud: 'readonly',
        plus: 'readonly',
        wx: 'readonly',
        my: 'readonly',
      },
    },
    rules: {
      // provider payloads are loosely typed JSON at the edges
      '@typescript-eslint/no-explicit-any': 'off',
      // lazy provider loading and the CommonJS cloud entry points use require on purpose
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
);
