// The generator writes the FreePBX tables itself now; test/reliability/crash.test.ts still imports it from here.
export { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
