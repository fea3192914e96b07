import { randomBytes } from 'node:crypto';

import type { NormalizedItem, Source } from '../nodes/shared/NormalizedItem';
import { engineLogs } from '../test/helpers/n8nEngine';
import type { ActiveTrigger } from '../test/helpers/n8nEngine';
import { isStopRequested, sleep, waitUntil } from './timing';

/**
 * The sandbox's one printer and checker, for every service. Scenarios register their services, the
 * triggers that emit items and the ids they create (with the transitions each should go through);
 * this module prints every item as it arrives, keeps a referee's record of what each emulator
 * really did, and at the end checks per id: each transition once, in order, nothing missing
 * (except what a service's REST cannot give back), isFinal only on the last one, no secret anywhere.
 */

export type ServiceName = Source;

/** HH:MM:SS.mmm (UTC), the same clock as the items' receivedAt. */
export const clock = (at = Date.now()) => new Date(at).toISOString().slice(11, 23);

/** Enough of an id or hash to tell them apart in a line. */
export const short = (value: string | null, length = 8) => (value ? `${value.slice(0, length)}…` : '–');

/** "1 REST read", "7 REST reads". */
export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** One transition as the emulator made it, timed by the emulator's own clock. */
export interface Step {
	key: string;
	at: number;
}

export interface ServiceRules {
	name: ServiceName;
	/** What tells transitions apart: by default the status; status#retries where a status can come back (Tachyon). */
	keyOf?(item: NormalizedItem): string;
	/** REST knows only the current state: a status that came and went while disconnected cannot come back. */
	restKnowsOnlyLatest: boolean;
	/** How the nodes' log lines name the service ("Kurier"); with the emulator's host:port it marks a line as this service's. */
	logName: string;
	emulatorUrl: string;
	/** Service-specific numbers for the summary (connections, REST reads…). */
	describeTraffic(): string;
}

export interface TrackedId {
	service: ServiceName;
	id: string;
	label: string;
	/** The transition keys the emulator should go through; the last one is final. */
	expected: readonly string[];
	/** What the emulator did with this id so far: its whole history, or just its current state. */
	observe(): Step[];
}

interface IdRecord {
	tracked: TrackedId;
	/** The referee's record, in order; keys are unique per id. */
	history: Step[];
}

interface ItemSource {
	trigger: ActiveTrigger;
	/** Emissions (n8n executions) already printed: only newer ones are looked at, however long the run. */
	printed: number;
}

interface Gap {
	from: number;
	to: number;
}

interface ServiceRecord {
	rules: ServiceRules;
	keyOf(item: NormalizedItem): string;
	logMarkers: string[];
	sources: ItemSource[];
	ids: Map<string, IdRecord>;
	/** From a drop until the trigger was back. */
	gaps: Gap[];
}

const SERVICE_COLUMN = 'allfeat-ats'.length;
const KEY_COLUMN = 'preparing_transaction'.length;
const LABEL_COLUMN = 30;
// Often enough that the referee never misses a status (steps are hundreds of ms apart).
const TICK_MS = 10;
// How long an item of an id not known yet is held back, waiting for its label.
const HOLD_UNKNOWN_ID_MS = 1_000;
// After a reconnect each trigger asks REST for what it missed; allow it this long.
const RECONCILE_SLACK_MS = 300;
// At the end, frames already in flight get this long to arrive before the judging.
const IN_FLIGHT_GRACE_MS = 200;
// The streams' debug line for a transition they got from REST rather than from the socket.
const VIA_REST = /^(?:Kurier job|Allfeat ATS transaction|Tachyon transaction) (\S+) is (?:at step )?(\S+) \(via rest\)$/;

export class Report {
	private readonly secrets: string[] = [];
	private readonly services = new Map<ServiceName, ServiceRecord>();
	/** `${id}:${key}` of transitions a stream said it got from REST, until their item is printed. */
	private readonly viaRest = new Set<string>();
	private readonly problems: string[] = [];
	private ticker: NodeJS.Timeout | undefined;

	// ----- output ---------------------------------------------------------------------------------

	/** A random secret for an emulator account; never printed, and checked for in every item and log line. */
	newSecret(prefix: string): string {
		const secret = `${prefix}${randomBytes(12).toString('hex')}`;
		this.secrets.push(secret);
		return secret;
	}

	redact(text: string): string {
		return this.secrets.reduce((result, secret) => result.split(secret).join('[redacted]'), text);
	}

	say(line: string): void {
		console.log(this.redact(line));
	}

	/** A line in the item stream that is not an item (what a scenario did, a drop), after the items that came before it. */
	note(service: string, text: string, at = Date.now()): void {
		this.tick(false);
		this.line(service, text, at);
	}

	private line(service: string, text: string, at = Date.now()): void {
		this.say(`${clock(at)}  ${service.padEnd(SERVICE_COLUMN)}  ${text}`);
	}

	problem(service: string, what: string): void {
		this.problems.push(`${service}: ${what}`);
	}

	/** Every problem found so far, redacted; empty means OK. */
	problemList(): string[] {
		return this.problems.map((problem) => this.redact(problem));
	}

	// ----- registration ---------------------------------------------------------------------------

	addService(rules: ServiceRules): void {
		this.services.set(rules.name, {
			rules,
			keyOf: rules.keyOf ?? ((item) => item.status),
			logMarkers: [rules.logName, new URL(rules.emulatorUrl).host],
			sources: [],
			ids: new Map(),
			gaps: [],
		});
	}

	/** Items of this trigger are printed and judged as the service's. */
	watch(service: ServiceName, trigger: ActiveTrigger): void {
		this.service(service).sources.push({ trigger, printed: 0 });
	}

	/** Announces a new id (what was done to get it) and follows it from now on; returns the id. */
	track(tracked: TrackedId, announcement: string): string {
		this.note(tracked.service, announcement);
		const record: IdRecord = { tracked, history: [] };
		this.service(tracked.service).ids.set(tracked.id, record);
		this.observe(record);
		// Its first item may have been held back for want of a label.
		this.printItems(false);
		return tracked.id;
	}

	recordGap(service: ServiceName, from: number, to: number): void {
		this.service(service).gaps.push({ from, to });
	}

	// ----- queries for the scenarios ------------------------------------------------------------

	/** Up to date, not as of the last tick: a drop is timed on the latest step. */
	stepsOf(id: string): readonly Step[] {
		const record = this.idRecord(id);
		if (!record) return [];
		this.observe(record);
		return record.history;
	}

	receivedCount(id: string): number {
		const service = this.serviceOfId(id);
		return service ? this.itemsOf(service).filter((item) => item.id === id).length : 0;
	}

	isDone(id: string): boolean {
		const record = this.idRecord(id);
		return record !== undefined && record.history.at(-1)?.key === record.tracked.expected.at(-1);
	}

	/** Waits for every id of the service to reach its final transition; a problem if they do not. */
	async expectAllDone(service: ServiceName, timeoutMs: number): Promise<void> {
		const ids = [...this.service(service).ids.keys()];
		if (await waitUntil(() => ids.every((id) => this.isDone(id)), timeoutMs)) return;
		this.problem(service, isStopRequested() ? 'interrupted before every id was final' : `not every id reached its final status within ${timeoutMs / 1000} s`);
	}

	// ----- the live loop ------------------------------------------------------------------------

	start(): void {
		this.ticker = setInterval(() => this.tick(false), TICK_MS);
	}

	stop(): void {
		clearInterval(this.ticker);
	}

	/** Judges what happened up to now (frames in flight get a moment) and prints a summary per service. */
	async finish(): Promise<void> {
		this.observeAll();
		const stopAt = Date.now();
		await sleep(IN_FLIGHT_GRACE_MS);
		this.stop();
		this.tick(true);
		this.say('\nSummary');
		for (const service of this.services.values()) this.judgeService(service, stopAt);
	}

	private tick(final: boolean): void {
		this.observeAll();
		this.drainLogs();
		this.printItems(final);
	}

	/** The referee: reads each unfinished id's state from its emulator. */
	private observeAll(): void {
		for (const service of this.services.values()) {
			for (const record of service.ids.values()) if (!this.isDone(record.tracked.id)) this.observe(record);
		}
	}

	private observe(record: IdRecord): void {
		for (const step of record.tracked.observe()) {
			if (!record.history.some((known) => known.key === step.key)) record.history.push(step);
		}
	}

	private drainLogs(): void {
		for (const { level, message } of engineLogs.lines.splice(0)) {
			if (this.containsSecret(message)) this.problem(this.serviceOfLog(message), `a secret appeared in a ${level} log line`);
			const rest = VIA_REST.exec(message);
			if (rest) this.viaRest.add(`${rest[1]}:${rest[2]}`);
			if (level === 'warn' || level === 'error') this.line(this.serviceOfLog(message), `n8n ${level}: ${message}`);
		}
	}

	/** New items of every trigger, in arrival order; `final` also prints the ones held for their label. */
	private printItems(final: boolean): void {
		const ready: Array<{ service: ServiceRecord; item: NormalizedItem }> = [];
		for (const service of this.services.values()) {
			for (const source of service.sources) {
				const { emissions } = source.trigger;
				for (; source.printed < emissions.length; source.printed += 1) {
					const items = emissions[source.printed].map((data) => data.json as unknown as NormalizedItem);
					if (!final && items.some((item) => this.isHeld(service, item))) break;
					ready.push(...items.map((item) => ({ service, item })));
				}
			}
		}
		ready.sort((a, b) => a.item.receivedAt.localeCompare(b.item.receivedAt));
		for (const { service, item } of ready) this.printItem(service, item);
	}

	/** A new id's first item often arrives before the answer that tells the demo its id: held briefly, for its label. */
	private isHeld(service: ServiceRecord, item: NormalizedItem): boolean {
		return !service.ids.has(item.id) && Date.now() - Date.parse(item.receivedAt) < HOLD_UNKNOWN_ID_MS;
	}

	private printItem(service: ServiceRecord, item: NormalizedItem): void {
		const key = service.keyOf(item);
		const how = this.viaRest.delete(`${item.id}:${key}`) ? '  ← via REST' : '';
		const label = service.ids.get(item.id)?.tracked.label ?? 'an id this run did not create';
		this.say(
			`${item.receivedAt.slice(11, 23)}  ${service.rules.name.padEnd(SERVICE_COLUMN)}  ${short(item.id)}  ${key.padEnd(KEY_COLUMN)} ` +
				`${item.phase.padEnd(9)} final=${item.isFinal ? 'yes' : 'no '}  tx ${short(item.txHash, 10).padEnd(11)}  ${label}${how}`,
		);
	}

	// ----- judging ------------------------------------------------------------------------------

	private judgeService(service: ServiceRecord, stopAt: number): void {
		const { name } = service.rules;
		const problemsBefore = this.problems.length;
		const items = this.itemsOf(service);
		this.say(`  ${name}`);
		let recovered = 0;
		let superseded = 0;
		for (const record of service.ids.values()) {
			const outcome = this.judgeId(service, record, items.filter((item) => item.id === record.tracked.id), stopAt);
			recovered += outcome.recovered;
			superseded += outcome.superseded;
		}
		const strangers = new Set(items.filter((item) => !service.ids.has(item.id)).map((item) => item.id));
		if (strangers.size > 0) this.problem(name, `items for ids this run never created: ${[...strangers].map((id) => short(id)).join(', ')}`);
		if (items.some((item) => item.source !== name)) this.problem(name, 'an item with another service as its source');
		const errors = service.sources.flatMap((source) => source.trigger.errors);
		if (errors.length > 0) this.problem(name, `the trigger reported errors: ${errors.map((error) => error.message).join('; ')}`);
		if (this.containsSecret(JSON.stringify(items))) this.problem(name, 'a secret appeared in an emitted item');

		const executions = service.sources.reduce((count, source) => count + source.trigger.emissions.length, 0);
		const backAfter = service.gaps.map((gap) => `${gap.to - gap.from} ms`).join(', ');
		this.say(`    ${plural(items.length, 'item')} in ${plural(executions, 'execution')} for ${plural(service.ids.size, 'id')}; ${service.rules.describeTraffic()}; back ${backAfter || '–'} after the drop`);
		this.say(
			`    ${plural(recovered, 'transition')} that happened while disconnected recovered over REST` +
				(superseded > 0 ? `, ${superseded} replaced by a later one before the trigger was back (REST only knows the latest)` : ''),
		);
		const found = this.problems.length - problemsBefore;
		this.say(`    ${found === 0 ? 'OK' : plural(found, 'problem')}`);
	}

	/** Once, in order, nothing missing that could have been had, isFinal only on the last transition. */
	private judgeId(service: ServiceRecord, { tracked, history }: IdRecord, items: NormalizedItem[], stopAt: number) {
		const { keyOf } = service;
		const { restKnowsOnlyLatest } = service.rules;
		const fail = (what: string) => this.problem(service.rules.name, `${short(tracked.id)} (${tracked.label}): ${what}`);
		const keys = items.map((item) => keyOf(item));
		if (history.some((step, i) => step.key !== tracked.expected[i])) fail(`the emulator went ${history.map((step) => step.key).join(' → ')}`);
		if (new Set(keys).size !== keys.length) fail(`duplicate transition: ${keys.join(', ')}`);
		const positions = keys.map((key) => history.findIndex((step) => step.key === key));
		if (positions.some((position, i) => position < 0 || (i > 0 && position <= positions[i - 1]))) fail(`out of order or unknown: ${keys.join(', ')}`);
		const wrongFinal = items.filter((item) => item.isFinal !== (keyOf(item) === tracked.expected.at(-1)));
		if (wrongFinal.length > 0) fail(`isFinal wrong on ${wrongFinal.map((item) => keyOf(item)).join(', ')}`);

		let recovered = 0;
		let superseded = 0;
		const happened = history.filter((step) => step.at <= stopAt);
		happened.forEach((step, i) => {
			if (keys.includes(step.key)) {
				if (service.gaps.some((gap) => step.at >= gap.from && step.at < gap.to)) recovered += 1;
				return;
			}
			// Excusable only where REST knows just the latest state, and the step came AND went while the trigger could not see it.
			const nextAt = happened[i + 1]?.at ?? Number.POSITIVE_INFINITY;
			if (restKnowsOnlyLatest && service.gaps.some((gap) => step.at >= gap.from && nextAt <= gap.to + RECONCILE_SLACK_MS)) superseded += 1;
			else fail(`missing ${step.key} (it happened at ${clock(step.at)})`);
		});
		const pending = this.isDone(tracked.id) ? '' : ' (not final yet)';
		this.say(`    ${short(tracked.id)}  ${tracked.label.padEnd(LABEL_COLUMN)} ${keys.length}/${tracked.expected.length}: ${keys.join(' → ')}${pending}`);
		return { recovered, superseded };
	}

	// ----- lookups ------------------------------------------------------------------------------

	private service(name: ServiceName): ServiceRecord {
		const service = this.services.get(name);
		if (!service) throw new Error(`Report: service ${name} was not added`);
		return service;
	}

	private serviceOfId(id: string): ServiceRecord | undefined {
		return [...this.services.values()].find((service) => service.ids.has(id));
	}

	private idRecord(id: string): IdRecord | undefined {
		return this.serviceOfId(id)?.ids.get(id);
	}

	private itemsOf(service: ServiceRecord): NormalizedItem[] {
		return service.sources.flatMap((source) => source.trigger.items() as unknown as NormalizedItem[]);
	}

	private serviceOfLog(message: string): string {
		return [...this.services.values()].find((service) => service.logMarkers.some((marker) => message.includes(marker)))?.rules.name ?? 'n8n';
	}

	private containsSecret(text: string): boolean {
		return this.secrets.some((secret) => text.includes(secret));
	}
}
