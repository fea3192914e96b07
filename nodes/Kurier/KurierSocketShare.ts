import type { SocketListener } from '../shared/ReconnectingSocket';
import { errorFrameFields } from './protocol';

/** One Kurier trigger on a shared socket, as the others see it. */
export interface KurierShareMember {
	/** What it subscribed to: `job:<id>`, or `all`. */
	readonly topic: string;
	/**
	 * Another trigger sent what ends every subscription on the connection (unsubscribe-all stops the
	 * per-job ones too): subscribe again, and read over REST what moved meanwhile.
	 */
	onSubscriptionsDropped(): void;
}

/** What leaving tells the trigger that leaves. */
export interface KurierLeave {
	/** Other triggers still use the socket (alone, the socket just closes: nothing to unsubscribe). */
	othersRemain: boolean;
	/** No other trigger follows its topic: time to unsubscribe it. */
	lastOnTopic: boolean;
}

/**
 * What the Kurier triggers sharing one socket keep together (made with the socket by the pool):
 * who follows which topic, so a trigger leaving unsubscribes only what no other one follows; and
 * what the service said about the connection before a close, which tells a refused key from a
 * limit (both can be 1008) and a retired connection from a fault. It lives as long as the socket,
 * not as long as a trigger that may leave first.
 */
export class KurierSocketShare {
	private readonly members = new Set<KurierShareMember>();
	private readonly topics = new Map<string, number>();
	/** The last error frame about the connection (not about one job) before a close. */
	lastErrorFrame: { code?: string; message?: string } | null = null;
	/** The current connection said `connected`. */
	connected = false;

	/** Sees the socket's events before any trigger does. */
	readonly socketListener: SocketListener = {
		onReady: () => {
			this.connected = true;
		},
		onFrame: (frame) => {
			// Only what concerns the connection: an error about one trigger's job says nothing about the key.
			const error = errorFrameFields(frame);
			if (error && (frame as { jobId?: unknown }).jobId === undefined) this.lastErrorFrame = error;
		},
		onDisconnect: () => {
			this.connected = false;
			this.lastErrorFrame = null;
		},
	};

	join(member: KurierShareMember): void {
		if (this.members.has(member)) return;
		this.members.add(member);
		this.topics.set(member.topic, (this.topics.get(member.topic) ?? 0) + 1);
	}

	/** Idempotent: a member that already left learns that it is not the last on its topic. */
	leave(member: KurierShareMember): KurierLeave {
		if (!this.members.delete(member)) return { othersRemain: this.members.size > 0, lastOnTopic: false };
		const count = (this.topics.get(member.topic) ?? 1) - 1;
		if (count > 0) this.topics.set(member.topic, count);
		else this.topics.delete(member.topic);
		return { othersRemain: this.members.size > 0, lastOnTopic: count === 0 };
	}

	/** `sender` sent unsubscribe-all: every other member's subscriptions ended with it. */
	subscriptionsDroppedBy(sender: KurierShareMember): void {
		for (const member of [...this.members]) if (member !== sender) member.onSubscriptionsDropped();
	}
}
