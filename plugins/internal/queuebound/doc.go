// Package queuebound is the [policy.NAME] table that mtds and mtdbf share:
// how many queued tasks a policy holds before its Admit refuses new ones.
//
// What must not live here: anything about tenants or classes; each
// policy's own keys stay in its package.
package queuebound
