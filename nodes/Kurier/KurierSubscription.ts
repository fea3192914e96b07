import type { ConnectionHandle, SocketLogger } from '../shared/ReconnectingSocket';
import type { SocketLease } from '../shared/SocketPool';
import type { KurierSocketShare, KurierShareMember } from './KurierSocketShare';
import type { KurierClientFrame } from './protocol';
import { clientFrames } from './protocol';

export type KurierStreamTarget = { kind: 'job'; jobId: string } | { kind: 'allJobs' };

const SUBSCRIBE_CONFIRMATION_WAIT_MS = 3_000;
/** A rate-limited subscribe is retried no sooner than this, whatever `retryAfterSeconds` says. */
const RATE_LIMIT_MIN_RETRY_MS = 250;

export interface KurierSubscriptionHooks {
	/**
	 * The subscription was renewed after a gap (a rate-limited subscribe, another trigger's
	 * unsubscribe-all): read over REST what moved while it was off.
	 */
	renewed(): Promise<void>;
	/** Nothing more will come for the target (its job is final): nothing to renew. */
	isDone(): boolean;
	logger?: SocketLogger;
}

/**
 * One trigger's Kurier subscription on a shared socket: subscribe (`subscribe` for one job,
 * `subscribe-all` for the key) and wait for the server's confirmation, retry once at a time when
 * the server says it is rate limited, renew after another trigger's unsubscribe-all, and on leaving
 * unsubscribe only what no other trigger on the socket follows.
 */
export class KurierSubscription {
	/** This trigger as the other Kurier triggers on the socket see it. */
	private readonly member: KurierShareMember;
	/**
	 * Subscribes waiting for the server's answer. Two can overlap (a reconnect's and one after
	 * another trigger's unsubscribe-all): an answer, a drop or close ends them all.
	 */
	private readonly waiting = new Set<() => void>();
	/** A rate-limited subscribe is being retried (one retry at a time). */
	private retryScheduled = false;

	constructor(
		private readonly socket: SocketLease<KurierSocketShare>,
		readonly target: KurierStreamTarget,
		private readonly hooks: KurierSubscriptionHooks,
	) {
		this.member = {
			topic: target.kind === 'job' ? `job:${target.jobId}` : 'all',
			onSubscriptionsDropped: () => {
				// Kurier drops a job's subscription itself at its final status: nothing to renew then.
				// Between connections, the next one's onReady subscribes anyway.
				if (target.kind === 'job' && !hooks.isDone() && socket.state === 'open') void this.renew();
			},
		};
		socket.shared.join(this.member);
	}

	/** Whether an answer to one of this trigger's subscribes is awaited. */
	get awaitingAnswer(): boolean {
		return this.waiting.size > 0;
	}

	/**
	 * Subscribes and waits for the server's confirmation (or its error), so that once the trigger
	 * is active no job created afterwards can be missed. The confirmation frames' exact bodies are
	 * not documented, so after a short wait it goes on without one.
	 */
	async subscribe(connection: ConnectionHandle): Promise<void> {
		await new Promise<void>((resolve) => {
			const done = () => {
				this.waiting.delete(done);
				resolve();
			};
			this.waiting.add(done);
			this.socket.scheduleOnConnection(SUBSCRIBE_CONFIRMATION_WAIT_MS, done);
			connection.send(this.subscribeFrame());
		});
	}

	/** An answer came (or cannot come any more): every subscribe waiting goes on. */
	answer(): void {
		for (const done of [...this.waiting]) done();
	}

	/** A `subscribed` / `subscribed-all` frame; on a shared socket it may be another trigger's. */
	onConfirmation(all: boolean, jobId: string | undefined): void {
		if (all === (this.target.kind === 'allJobs') && (jobId === undefined || this.concerns(jobId))) this.answer();
	}

	/** Whether a frame about `jobId` concerns this trigger's own subscription. */
	concerns(jobId: string): boolean {
		return this.target.kind === 'job' && this.target.jobId === jobId;
	}

	/**
	 * Rate limited: the subscription was not applied. Only the trigger whose subscribe it answers
	 * tries again (on a shared socket every other trigger also sees it), once however many such frames
	 * come, and never sooner than a floor (a server saying 0 must not make a loop).
	 */
	onRateLimited(retryAfterSeconds: number, jobId: string | undefined, wasAwaitingAnswer: boolean, text: string): void {
		if ((!wasAwaitingAnswer && jobId === undefined) || this.retryScheduled) return;
		const delayMs = Math.max(RATE_LIMIT_MIN_RETRY_MS, Math.ceil(retryAfterSeconds * 1000));
		this.hooks.logger?.warn(`${text}; subscribing again in ${delayMs} ms`);
		this.socket.retryAfter(delayMs);
		this.retryScheduled = true;
		this.socket.scheduleOnConnection(delayMs, () => {
			this.retryScheduled = false;
			void this.renew();
		});
	}

	/** The connection dropped: the next one subscribes anyway, and no answer can come on this one. */
	onDrop(): void {
		this.retryScheduled = false;
		this.answer();
	}

	/**
	 * Leaving while other triggers still use the socket: stop what only this one followed (alone, the
	 * socket just closes). A job that reached its final status needs nothing (`unsubscribe` false):
	 * the service dropped that subscription itself.
	 */
	leave(unsubscribe = true): void {
		this.answer();
		if (this.socket.state === 'closed' || !unsubscribe) {
			this.socket.shared.leave(this.member);
			return;
		}
		const { othersRemain, lastOnTopic } = this.socket.shared.leave(this.member);
		if (!othersRemain || !lastOnTopic) return;
		if (this.target.kind === 'job') {
			this.socket.send(clientFrames.unsubscribe(this.target.jobId));
			return;
		}
		// unsubscribe-all stops the per-job subscriptions too ("stop all"): the triggers following one
		// job on this socket subscribe again, and read their job over REST (it may have moved between).
		this.socket.send(clientFrames.unsubscribeAll());
		this.socket.shared.subscriptionsDroppedBy(this.member);
	}

	/**
	 * Subscribe again, then read over REST what is not final: whatever moved between the gap and the
	 * new subscription came on no socket; without this it would wait for the next periodic check.
	 */
	private async renew(): Promise<void> {
		await this.subscribe({ reconnected: true, send: (frame) => this.socket.send(frame) });
		if (this.socket.state === 'closed') return;
		await this.hooks.renewed();
	}

	private subscribeFrame(): KurierClientFrame {
		return this.target.kind === 'job' ? clientFrames.subscribe(this.target.jobId) : clientFrames.subscribeAll();
	}
}
