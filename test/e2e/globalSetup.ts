import { mkdirSync, rmSync } from 'node:fs';

import { installedPackageTemplate } from './harness/communityPackage';
import { E2E_WORK_DIR } from './harness/n8nLines';

/** Packs and installs this package once for the whole run (every n8n user folder gets a copy). */
export default function globalSetup(): void {
	rmSync(E2E_WORK_DIR, { recursive: true, force: true });
	mkdirSync(E2E_WORK_DIR, { recursive: true });
	installedPackageTemplate(E2E_WORK_DIR);
}
