import { describe, expect, it } from "vitest";
import { FINAL_STATUSES, JOB_STATUSES } from "../db/models";
import { FINAL_STATUS_LIST, JOB_STATUS_LIST } from "./statuses";

describe("statuses for the browser", () => {
  it("match the model's", () => {
    expect([...JOB_STATUS_LIST]).toEqual([...JOB_STATUSES]);
    expect([...FINAL_STATUS_LIST]).toEqual([...FINAL_STATUSES]);
  });
});
