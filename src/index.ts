import './shim.js'
import { main, post } from './main.js'
import { isPost, markMainStarted } from './state.js'

// One bundle runs both steps of action.yml; what the main step saved tells the post step apart.
if (isPost()) {
  await post()
} else {
  markMainStarted()
  await main()
}
