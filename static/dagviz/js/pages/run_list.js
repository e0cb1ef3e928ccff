// The run list: unfinished runs update their status live.

import { keepRunRowsLive } from "../run_rows_live.js";

keepRunRowsLive();
