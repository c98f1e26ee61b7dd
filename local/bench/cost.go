package bench

// List prices, us-east-1, read 2026-12-04 (docs/performance.md cites the pages).
const (
	PriceTransition   = 0.025 / 1000 // Step Functions Standard, per state transition
	PriceLambdaReq    = 0.20 / 1e6   // Lambda, per request
	PriceLambdaGBs    = 0.0000133334 // Lambda arm64, per GB-second (first tier)
	PriceCrossAccount = 1.00 / 1e6   // EventBridge, per event delivered to another account
	PriceDDBWrite     = 0.625 / 1e6  // DynamoDB on demand, per write request unit
	PriceDDBRead      = 0.125 / 1e6  // DynamoDB on demand, per read request unit
)

// Cost is the list-price cost of 1,000 builds, by service, in dollars.
type Cost struct {
	StepFunctions, Lambda, EventBridge, DynamoDB float64
}

// Total sums the services.
func (c Cost) Total() float64 { return c.StepFunctions + c.Lambda + c.EventBridge + c.DynamoDB }

// PerTargetFigures are one target's measured quantities, the inputs of the cost model.
type PerTargetFigures struct {
	Transitions, Invocations, GBSeconds, CrossAccountEvents, DDBWrites, DDBReads float64
}

// WRUPerWrite prices each DynamoDB write as 3 write request units: a token record carries
// a task token of up to 2,048 characters, so 2-3 KB (docs/scale.md); a read of it is one
// read request unit (under 4 KB).
const WRUPerWrite = 3

// CostPer1000 prices 1,000 targets of the given figures.
func CostPer1000(f PerTargetFigures) Cost {
	return Cost{
		StepFunctions: 1000 * f.Transitions * PriceTransition,
		Lambda:        1000 * (f.Invocations*PriceLambdaReq + f.GBSeconds*PriceLambdaGBs),
		EventBridge:   1000 * f.CrossAccountEvents * PriceCrossAccount,
		DynamoDB:      1000 * (f.DDBWrites*WRUPerWrite*PriceDDBWrite + f.DDBReads*PriceDDBRead),
	}
}
