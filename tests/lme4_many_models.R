# Reference numbers for tests/test_analysis_many_models.py (provenance there).
# Usage: python -c "import sys; sys.path.insert(0, 'tests'); from lme4_cases import many_models_case;
#          from eudaimonia_nb import load_benchmark; many_models_case(load_benchmark(PATH).checks).to_csv('many.csv', index=False)"
#        Rscript tests/lme4_many_models.R many.csv [fixed0|fixed1|crossed0]...
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
for (what in args[-1]) {
  if (what == "fixed0") {
    e <- system.time(fit <- glmer(fixed, data = d, family = binomial, nAGQ = 0))[["elapsed"]]
    show("fixed model, glmer(nAGQ=0)", fit, e)
  } else if (what == "fixed1") {
    e <- system.time(fit <- glmer(fixed, data = d, family = binomial,
                                  control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                                        calc.derivs = FALSE)))[["elapsed"]]
    show("fixed model, glmer(nAGQ=1, bobyqa, calc.derivs=FALSE)", fit, e)
  } else if (what == "crossed0") {
    e <- system.time(fit <- glmer(violation ~ source + requirement + (1 | prompt_id) + (1 | model), data = d,
                                  family = binomial, nAGQ = 0))[["elapsed"]]
    show("crossed, glmer(nAGQ=0)", fit, e)
    print(ranef(fit)$model[1:5, , drop = FALSE], digits = 10)
  }
}
