// The jobs page: unfinished runs update their status live; Reload imports edited workspace code.

import { keepRunRowsLive } from "../run_rows_live.js";
import { wireReloadButton } from "../workspace_reload.js";

keepRunRowsLive();
wireReloadButton(document.querySelector("[data-testid=reload-workspace]"),
                 document.querySelector("[data-testid=reload-error]"));
