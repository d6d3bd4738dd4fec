import { readFileSync } from 'node:fs';
import { ERROR_TABLE_FILE, renderErrorTable } from '../../tools/gen-error-table';

test('the published error table matches core/errors.ts (run tools/gen-error-table.ts after changing errors)', () => {
  expect(readFileSync(ERROR_TABLE_FILE, 'utf8')).toBe(renderErrorTable());
});
