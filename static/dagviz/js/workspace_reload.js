// The Reload button of the jobs page: re-imports the workspace's code on the server, then shows the result.

import { graphql } from "./graphql.js";

const RELOAD_WORKSPACE = `mutation ReloadWorkspace {
  reloadWorkspace { __typename }
}`;

// After a reload the server renders the new job list and load errors itself, so the page is simply
// loaded again; a failed request leaves the page as it was and says why.
export function wireReloadButton(button, errorBox) {
  const label = button.textContent;
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Reloading…";
    errorBox.hidden = true;
    try {
      await graphql(RELOAD_WORKSPACE);
      window.location.reload();
    } catch (error) {
      errorBox.textContent = `Reload failed: ${error.message}`;
      errorBox.hidden = false;
      button.disabled = false;
      button.textContent = label;
    }
  });
}
