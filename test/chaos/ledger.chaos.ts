/** The chaos suite's accounting can fail: each kind of fault it counts, made on purpose. */
import { Ledger } from './helpers/ledger';

function ledgerWithOneJob(collapseAllowed: boolean, disruptedMiddle = false): Ledger {
	const ledger = new Ledger(collapseAllowed);
	ledger.produce('job', 'Queued', 0, false);
	if (disruptedMiddle) ledger.beginDisruption();
	ledger.produce('job', 'Valid', 1, false);
	ledger.endDisruption();
	ledger.produce('job', 'Finalized', 2, true);
	return ledger;
}

test('a frame dropped while connected is lost, even where collapse is allowed', () => {
	const ledger = ledgerWithOneJob(true);
	ledger.deliver('job', 'Queued');
	ledger.deliver('job', 'Finalized');
	expect(ledger.figures()).toMatchObject({ lost: 1, collapsed: 0, unfinished: 0 });
	expect(ledger.settled()).toBe(false);
});

test('a status passed while cut off collapses where the service allows it, and is lost where it does not', () => {
	for (const [allowed, expected] of [
		[true, { lost: 0, collapsed: 1 }],
		[false, { lost: 1, collapsed: 0 }],
	] as const) {
		const ledger = ledgerWithOneJob(allowed, true);
		ledger.deliver('job', 'Queued');
		ledger.deliver('job', 'Finalized');
		expect(ledger.figures()).toMatchObject(expected);
	}
});

test('a missing final status is lost and leaves the id unfinished, disrupted or not', () => {
	const ledger = new Ledger(true);
	ledger.produce('job', 'Queued', 0, false);
	ledger.beginDisruption();
	ledger.produce('job', 'Finalized', 1, true);
	ledger.deliver('job', 'Queued');
	expect(ledger.figures()).toMatchObject({ lost: 1, unfinished: 1 });
	expect(ledger.caughtUp()).toBe(false);
});

test('duplicates, reordering and items never produced are counted', () => {
	const ledger = ledgerWithOneJob(true);
	for (const key of ['Queued', 'Finalized', 'Valid', 'Finalized']) ledger.deliver('job', key);
	ledger.deliver('ghost', 'Queued');
	ledger.deliver('job', 'Aggregated');
	expect(ledger.figures()).toMatchObject({ lost: 0, duplicated: 1, outOfOrder: 1, unexpected: 2 });
});

test('everything delivered once and in order counts as such', () => {
	const ledger = ledgerWithOneJob(false);
	for (const key of ['Queued', 'Valid', 'Finalized']) ledger.deliver('job', key);
	expect(ledger.figures()).toMatchObject({ ids: 1, produced: 3, delivered: 3, lost: 0, duplicated: 0, outOfOrder: 0, collapsed: 0, unexpected: 0, unfinished: 0, examples: [] });
	expect(ledger.settled() && ledger.caughtUp()).toBe(true);
});
