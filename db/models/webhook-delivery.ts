import { BaseModel } from "./base-model";

export class WebhookDelivery extends BaseModel {
  static override tableName = "webhook_deliveries";

  /** X-GitHub-Delivery */
  id!: string;
  event!: string;
  action!: string | null;
  installationId!: number | null;
  payload!: unknown;
  status!: "received" | "processed" | "ignored" | "failed";
  error!: string | null;
  redeliveries!: number;
  receivedAt!: Date;
  processedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  static override jsonAttributes = ["payload"];
}
