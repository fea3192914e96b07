import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { E2E_WORK_DIR } from './n8nLines';

/**
 * Event → workflow execution latency in real n8n, gathered by the tests and printed as one table at
 * the end of the run (globalTeardown). Figures only: timing is reported, never asserted.
 */
const FILE = join(E2E_WORK_DIR, 'latency.jsonl');

interface LatencyRecord {
	line: string;
	mode: string;
	path: string;
	samples: number[];
}

/** Records a trigger's samples (see latencySamples): the whole path, and the part until the node had the frame. */
export function recordTriggerLatency(line: string, mode: string, path: string, samples: { total: number[]; inNode: number[] }): void {
	recordLatency(line, mode, path, samples.total);
	recordLatency(line, mode, `↳ of which service → trigger node`, samples.inNode);
}

export function recordLatency(line: string, mode: string, path: string, samples: number[]): void {
	if (samples.length === 0) return;
	appendFileSync(FILE, `${JSON.stringify({ line, mode, path, samples } satisfies LatencyRecord)}\n`);
}

export function latencyTable(): string {
	if (!existsSync(FILE)) return '';
	const records = readFileSync(FILE, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as LatencyRecord);
	const rows = records.map(({ line, mode, path, samples }) => `| n8n ${line} | ${mode} | ${path} | ${samples.length} | ${percentile(samples, 50)} | ${percentile(samples, 99)} |`);
	return ['| n8n | mode | event → sink | n | p50 ms | p99 ms |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

function percentile(samples: number[], p: number): number {
	const sorted = [...samples].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
