import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { latencyTable } from './harness/latencyReport';

/** Prints the latency figures the run gathered (and keeps them in .tmp/e2e-latency.md). */
export default function globalTeardown(): void {
	const table = latencyTable();
	if (!table) return;
	const out = resolve(__dirname, '../../.tmp');
	mkdirSync(out, { recursive: true });
	writeFileSync(resolve(out, 'e2e-latency.md'), `${table}\n`);
	console.log(`\nLatency in real n8n (event at the service → the workflow's HTTP call at the sink):\n${table}\n`);
}
