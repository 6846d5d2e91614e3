import { BaseModel } from "./base-model";

/** Associated data binding a user's encrypted token to its row: moved elsewhere it no longer decrypts. */
export function tokenAssociatedData(githubId: number): string {
  return `user:${githubId}`;
}

export class User extends BaseModel {
  static override tableName = "users";

  id!: number;
  githubId!: number;
  login!: string;
  name!: string | null;
  avatarUrl!: string | null;
  /** AES-256-GCM ciphertext; decrypt with the app's encryption key, never store the plain token. */
  oauthTokenEncrypted!: string | null;
  lastLoginAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}
