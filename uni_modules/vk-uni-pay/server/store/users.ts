/** uni-id-users, read only: the nickname vk-uni-pay shows in order statistics. */
import type { DatabaseSource } from './db';

/** The nickname (or username) of a uni-id user; undefined when the id is not a string or the user is unknown. */
export async function userNickname(db: DatabaseSource, user_id: unknown): Promise<string | undefined> {
  if (typeof user_id !== 'string' || !user_id) return undefined;
  const { data } = await db().collection('uni-id-users').doc(user_id).get();
  const user = data[0] as { nickname?: string; username?: string } | undefined;
  return user?.nickname ?? user?.username;
}
