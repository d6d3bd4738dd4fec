/**
 * vk-pay-sessions: the WeChat session_key of each mini-program user, stored at login and read when a
 * virtual payment is signed for that user. It never leaves the server.
 */
import type { DatabaseSource } from './db';

export const SESSIONS_COLLECTION = 'vk-pay-sessions';

export class SessionsRepo {
  constructor(private readonly db: DatabaseSource) {}

  private doc(appid: string, openid: string) {
    return this.db().collection(SESSIONS_COLLECTION).doc(`${appid}:${openid}`);
  }

  async save(appid: string, openid: string, session_key: string, now: number): Promise<void> {
    await this.doc(appid, openid).set({ appid, openid, session_key, update_date: now });
  }

  async sessionKey(appid: string, openid: string): Promise<string | undefined> {
    const { data } = await this.doc(appid, openid).get();
    return (data[0] as { session_key?: string } | undefined)?.session_key || undefined;
  }
}
