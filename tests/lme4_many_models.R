# Reference numbers for tests/test_analysis_many_models.py (provenance in lme4_many_models_reference.py).
# Usage: python -c "import sys; sys.path.insert(0, 'tests'); from lme4_cases import many_models_case;
#          from eudaimonia_nb import load_benchmark; many_models_case(load_benchmark(PATH).checks).to_csv('many.csv', index=False)"
#        Rscript tests/lme4_many_models.R many.csv [fixed0|fixed1|crossed0|at=POINT.csv]...
# at=POINT.csv: lme4's own Laplace (nAGQ=1) criterion of the fixed model evaluated once at the point in
# POINT.csv (columns term, value: theta first, then the fixed effects in lme4's order; written by
# lme4_cases.write_point), not optimised: its log-likelihood there, and a merMod made at that point (its
# vcov(use.hessian = FALSE) SEs). This stands in for fixed1 (glmer(nAGQ=1) itself: 120 parameters in
# bobyqa, each evaluation a PIRLS with the dense 346,170 x 119 design, 10-30 s on the shared machine,
# thousands of them). PIRLS runs to tolPwrss = 1e-13: at lme4's default 1e-7 the inner mode stops early
# enough to lower the log-likelihood by 3e-3 here.
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
reqs <- c("1B_intentional_human_speech", "1B_human_pronoun", "1C_identity_transparency",
          "2A_fabricated_personal_information", "2B_emotion_expression", "2C_deference",
          "2C_flattery_tone", "2D_human_relationship_encouragement", "3A_engagement_hooks")
d <- read.csv(args[1])
d$source <- factor(d$source, levels = c("real", "modified"))
d$requirement <- factor(d$requirement, levels = reqs[reqs %in% d$requirement])
d$model <- factor(d$model, levels = sort(unique(d$model)))
cat(R.version.string, " lme4", as.character(packageVersion("lme4")), " rows", nrow(d), "\n")
show <- function(label, fit, elapsed) {
  cat("==", label, "elapsed", elapsed, "\n")
  print(cbind(estimate = fixef(fit), se = sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))), digits = 10)
  print(VarCorr(fit), digits = 10)
  cat("logLik", format(as.numeric(logLik(fit)), digits = 12), "\n")
  print(fit@optinfo$conv$lme4$messages)
}
fixed <- violation ~ source + requirement + model + (1 | prompt_id)
devf <- NULL
for (what in args[-1]) {
  if (what == "fixed0") {
    e <- system.time(fit <- glmer(fixed, data = d, family = binomial, nAGQ = 0))[["elapsed"]]
    show("fixed model, glmer(nAGQ=0)", fit, e)
  } else if (what == "fixed1") {
    e <- system.time(fit <- glmer(fixed, data = d, family = binomial,
                                  control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                                        calc.derivs = FALSE)))[["elapsed"]]
    show("fixed model, glmer(nAGQ=1, bobyqa, calc.derivs=FALSE)", fit, e)
  } else if (startsWith(what, "at=")) {
    file <- sub("^at=", "", what)
    point <- read.csv(file)
    if (is.null(devf)) {
      ctrl <- glmerControl(nAGQ0initStep = FALSE, tolPwrss = 1e-13)
      glmod <- glFormula(fixed, data = d, family = binomial)
      glmod$formula <- NULL
      devf <- updateGlmerDevfun(do.call(mkGlmerDevfun, c(glmod, list(control = ctrl, nAGQ = 1L))),
                                glmod$reTrms, nAGQ = 1L)
    }
    stopifnot(identical(point$term, c("theta", colnames(glmod$X))))
    x <- point$value
    e <- system.time(value <- devf(x))[["elapsed"]]
    # Made right after the evaluation: the merMod reads the PIRLS state devf left at x.
    at <- lme4:::mkMerMod(environment(devf), list(par = x, fval = value, conv = 0, feval = 1,
                                                   message = "evaluated, not optimised"),
                          glmod$reTrms, fr = glmod$fr)
    show(paste("fixed model, lme4's nAGQ=1 criterion at", file), at, e)
    cat("Laplace logLik", format(-value / 2, digits = 15), "\n")
  } else if (what == "crossed0") {
    e <- system.time(fit <- glmer(violation ~ source + requirement + (1 | prompt_id) + (1 | model), data = d,
                                  family = binomial, nAGQ = 0))[["elapsed"]]
    show("crossed, glmer(nAGQ=0)", fit, e)
    print(ranef(fit)$model[1:5, , drop = FALSE], digits = 10)
  }
}
