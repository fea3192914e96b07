/**
 * The chaos suite's figures: each test file records its service's rows here; they are kept in
 * .tmp/chaos/<service>.json as they come (a failing test still leaves what it measured), and the
 * suite's global teardown prints them and writes .tmp/chaos-report.md (see globalTeardown.ts).
 */
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CHAOS_DIR = join(__dirname, '..', '..', '..', '.tmp', 'chaos');

export type FigureValue = string | number | boolean;

export interface ServiceFigures {
	service: string;
	/** Section → row name → value, in insertion order. */
	sections: Record<string, Record<string, FigureValue>>;
}

export class ChaosReport {
	private readonly figures: ServiceFigures;
	private readonly file: string;

	constructor(service: string) {
		mkdirSync(CHAOS_DIR, { recursive: true });
		this.file = join(CHAOS_DIR, `${service.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.json`);
		this.figures = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as ServiceFigures) : { service, sections: {} };
		this.figures.service = service;
	}

	/** Records (and saves at once) the rows of one scenario. */
	record(section: string, rows: Record<string, FigureValue>): void {
		this.figures.sections[section] = { ...this.figures.sections[section], ...rows };
		writeFileSync(this.file, JSON.stringify(this.figures, null, 2));
	}
}

export function megabytes(bytes: number): string {
	return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
