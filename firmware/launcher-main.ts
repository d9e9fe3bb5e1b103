/** The launcher's process entry (dist/launcher.mjs): see firmware/update/launcher.ts. */
import { runLauncher } from './update/launcher.ts';

await runLauncher(process.argv.slice(2));
