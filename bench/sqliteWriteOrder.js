/**
 * How often two updates of one row, issued back to back on one connection of n8n 1.x's sqlite3
 * module (TypeORM leaves it in its default parallel mode), end with the FIRST one's value. That is
 * what n8n's static-data write after each emit can do to a trigger's checkpoints (README: Delivery
 * promises). Needs n8n 1.x installed by test/e2e/install.sh. Usage: node bench/sqliteWriteOrder.js [pairs]
 */
const { mkdtempSync, rmSync } = require('node:fs');
const { homedir, tmpdir } = require('node:os');
const { join } = require('node:path');

const cache = process.env.N8N_E2E_CACHE ?? join(homedir(), '.cache', 'n8n-nodes-onchain-events-e2e');
const n8nDir = join(cache, `n8n-${process.env.N8N1_VERSION ?? '1.123.81'}`);
const sqlite3 = require(require.resolve('sqlite3', { paths: [n8nDir] }));
const pairs = Number(process.argv[2] ?? 2000);

const dir = mkdtempSync(join(tmpdir(), 'sqlite-write-order-'));
const db = new sqlite3.Database(join(dir, 'test.sqlite'));
db.serialize(() => {
	db.run('CREATE TABLE workflow (id INTEGER PRIMARY KEY, staticData TEXT)');
	db.run("INSERT INTO workflow VALUES (1, '{}')");
});
db.parallelize();

let olderWon = 0;
function pair(index) {
	if (index === pairs) {
		console.log(`${olderWon} of ${pairs} pairs of back-to-back updates ended with the first update's value`);
		db.close(() => rmSync(dir, { recursive: true, force: true }));
		return;
	}
	const first = JSON.stringify({ sequence: 2 * index + 1 });
	const second = JSON.stringify({ sequence: 2 * index + 2 });
	let done = 0;
	const settle = (error) => {
		if (error) throw error;
		if (++done < 2) return;
		db.get('SELECT staticData FROM workflow WHERE id = 1', (readError, row) => {
			if (readError) throw readError;
			if (row.staticData !== second) olderWon += 1;
			setImmediate(() => pair(index + 1));
		});
	};
	db.run('UPDATE workflow SET staticData = ? WHERE id = 1', [first], settle);
	// The next emit comes in a later event-loop turn, as the next WebSocket frame does.
	setImmediate(() => db.run('UPDATE workflow SET staticData = ? WHERE id = 1', [second], settle));
}
pair(0);
