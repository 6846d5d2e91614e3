// One test file's (or one test's) GitHub world: the stand-in with acme/widgets, the app installed
// (its installation.created delivery handled), and `deliver` for signed deliveries handled at once.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import type { Config } from "../../config/env";
import type { Handled } from "../../jobs/github/installations";
import type { WorkerContext } from "../../jobs/worker-context";
import type { TestDatabase } from "../helpers/database";
import {
  handleQueuedDeliveries,
  newDeliveryId,
  send,
  startFixture,
  testConfig,
  testContext,
  type Fixture,
} from "./support";

export interface Installed {
  readonly f: Fixture;
  readonly config: Config;
  readonly ctx: WorkerContext;
  /** Sends a signed delivery (202 expected) and handles what it queued. */
  deliver(event: string, payload: unknown): Promise<Handled[]>;
}

export const webhookFixture = (name: string) =>
  JSON.parse(readFileSync(`tests/fixtures/webhooks/${name}.json`, "utf8"));

/**
 * Starts the stand-in and installs the app before the file's tests (`per: "test"`: before each
 * test, with a fresh stand-in and repository, for tests that change GitHub's side).
 */
export function useInstalledApp(
  db: { current: TestDatabase },
  { per = "file" }: { per?: "file" | "test" } = {},
): Installed {
  const state = {} as { f: Fixture; config: Config; ctx: WorkerContext };
  const deliver = async (event: string, payload: unknown) => {
    const response = await send(state.config, db.current.knex, event, payload, {
      deliveryId: newDeliveryId(),
    });
    expect(response.status).toBe(202);
    return handleQueuedDeliveries(state.ctx);
  };
  (per === "test" ? beforeEach : beforeAll)(async () => {
    state.f = await startFixture();
    state.config = testConfig(state.f, db.current.url);
    state.ctx = testContext(state.config, db.current.knex, db.current.url);
    await deliver("installation", webhookFixture("installation.created"));
  });
  (per === "test" ? afterEach : afterAll)(async () => {
    await state.f?.close();
  });
  return {
    get f() {
      return state.f;
    },
    get config() {
      return state.config;
    },
    get ctx() {
      return state.ctx;
    },
    deliver,
  };
}
