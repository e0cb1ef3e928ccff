// Delete run, on the run page: enabled once the run has finished (it follows the live status), asks
// with the browser's confirmation, calls deleteRun and opens the runs list; a refusal is shown in the page.

import { graphql } from "./graphql.js";
import { isFinishedRun } from "./status.js";

const DELETE = `mutation DeleteRun($runId: ID!) { deleteRun(runId: $runId) {
  __typename ... on DeleteRunFailure { message } ... on RunNotFoundError { message }
  ... on UnauthorizedError { message } } }`;

const FINISHED_TITLE = "Delete the run, its events, worker log and stored outputs";
const ACTIVE_TITLE = "The run is still going: terminate it (or wait for it to finish), then delete it";

export function createDeleteRunButton(button, errorBox, state) {
  let deleting = false;

  function showError(message) {
    errorBox.hidden = false;
    errorBox.textContent = `✗ ${message}`;
  }

  button.addEventListener("click", async () => {
    const runId = state.run.id;
    if (!window.confirm(`Delete run ${runId}? Its events, logs and stored outputs are removed.`)) return;
    deleting = true;
    errorBox.hidden = true;
    render();
    try {
      const { deleteRun: result } = await graphql(DELETE, { runId });
      if (result.__typename === "DeleteRunSuccess") {
        location.assign(button.dataset.runsUrl);
        return;
      }
      showError(result.message);
    } catch (error) {
      showError(`Delete failed: ${error.message}`);
    }
    deleting = false;
    render();
  });

  function render() {
    const finished = isFinishedRun(state.run.status);
    button.disabled = deleting || !finished;
    button.title = finished ? FINISHED_TITLE : ACTIVE_TITLE;
  }

  render();
  return { render };
}
