import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ServiceFigures } from './helpers/report';

const ORDER = ['Kurier', 'Tachyon', 'Allfeat ATS'];

/** Prints every service's figures and writes them to .tmp/chaos-report.md. */
export default function globalTeardown(): void {
	const root = join(__dirname, '..', '..', '.tmp');
	const dir = join(root, 'chaos');
	if (!existsSync(dir)) return;
	const services = readdirSync(dir)
		.filter((name) => name.endsWith('.json'))
		.map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as ServiceFigures)
		.sort((a, b) => rank(a.service) - rank(b.service));
	const lines = ['# Chaos suite figures', '', `Run ${new Date().toISOString()} (\`npm run test:chaos\`).`, ''];
	for (const { service, sections } of services) {
		lines.push(`## ${service}`, '', '| scenario | figure | value |', '|---|---|---|');
		for (const [section, rows] of Object.entries(sections)) {
			let first = true;
			for (const [name, value] of Object.entries(rows)) {
				lines.push(`| ${first ? section : ''} | ${name} | ${String(value)} |`);
				first = false;
			}
		}
		lines.push('');
	}
	const text = lines.join('\n');
	writeFileSync(join(root, 'chaos-report.md'), text);
	process.stdout.write(`\n${text}\n(also in .tmp/chaos-report.md)\n`);
}

function rank(service: string): number {
	const index = ORDER.indexOf(service);
	return index === -1 ? ORDER.length : index;
}
