// Run by validation.test.ts as a fresh process, as another user when the tests run as root (root
// reads files of mode 000, so only another user sees EACCES): loads a model folder and prints, as
// JSON on stdout, the error the load threw or { loaded: true }.
// Usage: tsx validation-child.ts <model dir>
import { createModel } from '@slmkit/node';

const [dir] = process.argv.slice(2);
try {
  const model = await createModel(dir);
  await model.dispose();
  process.stdout.write(JSON.stringify({ loaded: true }));
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  process.stdout.write(JSON.stringify({ name: e.name, code: e.code, message: e.message }));
}
