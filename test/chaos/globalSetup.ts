import { rmSync } from 'node:fs';
import { join } from 'node:path';

/** Each run starts without the figures of an earlier one. */
export default function globalSetup(): void {
	const root = join(__dirname, '..', '..', '.tmp');
	rmSync(join(root, 'chaos'), { recursive: true, force: true });
	rmSync(join(root, 'chaos-report.md'), { force: true });
}
