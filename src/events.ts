/** The client's event channel: an EventTarget with a typed `on()`. Payloads never hold secrets. */

export interface ClientEventMap {
  /** First credential issued for this store key. */
  issued: { version: number; expiresAt?: number; appId?: string };
  /** Credential replaced after expiry. */
  renewed: { version: number; expiresAt?: number; appId?: string };
  /** The clock offset changed from an authenticated server time. */
  'clock-corrected': { offsetMs: number; previousOffsetMs: number; source: string };
  /** A call is being resent (once per cause). */
  retry: { cause: 'CREDENTIAL_EXPIRED' | 'CLOCK_SKEW'; operationType: string };
  /** The credential store failed; records now live in memory. */
  'storage-fallback': { reason: string; store: string };
  /** A stage of one call, for the inspector/playground (wire data is ciphertext, never keys). */
  stage: { callId: number; stage: 'params' | 'sealed' | 'response' | 'opened' | 'error'; at: number; operationType: string; data?: unknown };
}

export type ClientEventType = keyof ClientEventMap;

export class ClientEvents extends EventTarget {
  // Listeners by type, so a call builds no event objects nobody listens to (the `stage`
  // events run four times per call). A `once` listener stays counted after it fires:
  // that only costs a dispatch, never a lost event.
  private readonly listeners = new Map<string, Set<EventListenerOrEventListenerObject>>();

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    super.addEventListener(type, listener, options);
    if (listener) (this.listeners.get(type) ?? this.listeners.set(type, new Set()).get(type)!).add(listener);
  }

  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    super.removeEventListener(type, listener, options);
    if (listener) this.listeners.get(type)?.delete(listener);
  }

  /** Listen to one event type; returns a function that stops listening. */
  on<K extends ClientEventType>(type: K, listener: (detail: ClientEventMap[K]) => void): () => void {
    const wrapped = (e: Event) => listener((e as CustomEvent<ClientEventMap[K]>).detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** @internal Is anyone listening to `type`? */
  listening(type: ClientEventType): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0;
  }

  /** @internal */
  emit<K extends ClientEventType>(type: K, detail: ClientEventMap[K]): void {
    if (this.listening(type)) this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
